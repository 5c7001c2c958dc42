"""Fixtures for the vision tests: tiny random models built once per run, and a pawpost home with two pets.

Lola's reference photos have the "red" look, Pico's the "blue" one (see tests/tiny_vision.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import tiny_vision
from tests.conftest import write_config

PETS = tiny_vision.PET_LOOKS
REFERENCES_PER_PET = 3


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "owlv2": tiny_vision.build_owlv2(root / "owlv2"),
        "owlv2_grid": tiny_vision.build_owlv2(root / "owlv2-grid", grid_boxes=True),
        "detr": tiny_vision.build_detr(root / "detr"),
        "dinov2": tiny_vision.build_dinov2(root / "dinov2"),
        "clip": tiny_vision.build_clip(root / "clip"),
    }


@pytest.fixture
def vision_home(tmp_path: Path, tiny_models: dict[str, Path]):
    """vision_home(**models_overrides) -> config path: two pets with reference folders, tiny models, CPU."""

    def make(references: int = REFERENCES_PER_PET, **models: Any) -> Path:
        root = tmp_path / "pawpost"
        pets = tiny_vision.reference_photos(root, PETS, references)
        settings = {"device": "cpu", "dtype": "auto", "detector": str(tiny_models["detr"]),
                    "embedder": str(tiny_models["dinov2"]), "detection_threshold": 1.0, "match_threshold": 0.5,
                    "batch_size": 4}
        settings.update({k: str(v) if isinstance(v, Path) else v for k, v in models.items()})
        return write_config(root, {"models": settings}, pets)

    return make


def load(path: Path):
    from bot.config import load_config

    return load_config(path)


def open_home(config_path: Path):
    """The home's config, an open store and a Vision on the CPU."""
    from bot.runtime.ml import Runtime
    from bot.store.database import Store
    from bot.vision.identify import Vision

    config = load(config_path)
    return config, Store.for_config(config), Vision(config, Runtime.from_config(config))


def add_photo(store: Any, image: Any, name: str) -> int:
    """A `new` photo in the library, as ingest would record it (from a PIL image, or a file's exact bytes)."""
    import hashlib
    import io

    from bot import timeutil

    if isinstance(image, Path):  # a file as it is, byte for byte
        data = image.read_bytes()
        from PIL import Image

        image = Image.open(image)
    else:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=95)
        data = buf.getvalue()
    path = store.data_dir / "library" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    now = timeutil.iso(timeutil.now())
    return store.insert("photos", sha256=hashlib.sha256(data).hexdigest(), status="new", source_name=name,
                        path=f"library/{name}", format="JPEG", width=image.width, height=image.height,
                        size_bytes=len(data), created_at=now, updated_at=now)
