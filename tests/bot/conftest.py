"""Fixtures shared by the bot tests: tiny local models of the real architectures, built once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _built(factory: pytest.TempPathFactory, name: str, build: Any) -> Path:
    """Build a tiny model once per test session (every module that needs it shares the folder)."""
    folder = factory.getbasetemp() / f"tiny-{name}"
    if not (folder / "config.json").is_file():
        build(folder)
    return folder


@pytest.fixture(scope="session")
def pipeline_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny OWLv2, DINOv2 and chat VLM folders for end-to-end runs (the vision tests have their own set)."""
    from tests.tiny_captions import build_chat_vlm
    from tests.tiny_vision import build_dinov2, build_owlv2

    return {"detector": str(_built(tmp_path_factory, "owlv2", build_owlv2)),
            "embedder": str(_built(tmp_path_factory, "dinov2", build_dinov2)),
            "captioner": str(_built(tmp_path_factory, "chat-vlm", build_chat_vlm))}
