"""bot/pipeline.py: photos carried new -> analyzed -> drafted with real tiny models, the GPU lock, bad rows."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.tiny_vision import LOOKS, pet_photo

PETS = [{"name": "Lola", "species": "dog", "photos": "pets/lola"},
        {"name": "Pico", "species": "dog", "photos": "pets/pico"}]
FAST_CAPTIONS = {"seed": 7, "candidates": 2, "max_new_tokens": 8, "max_attempts": 1}


def make_home(root: Path, models: dict[str, str], **sections: dict[str, Any]) -> Path:
    """A pawpost home with two pets (three reference photos each) whose models are the tiny ones."""
    for pet, look in (("lola", "red"), ("pico", "blue")):
        for i in range(3):
            path = root / "pets" / pet / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            pet_photo(look, i).save(path, quality=90)
    merged: dict[str, dict[str, Any]] = {
        "models": {"device": "cpu", "batch_size": 2, **models},
        "captions": FAST_CAPTIONS,
        "ingest": {"stable_seconds": 0.2},
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    return write_config(root, merged, PETS)


def jpeg(look: str, variant: int) -> bytes:
    import io

    buffer = io.BytesIO()
    pet_photo(look, variant).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def setup(tmp_path: Path, pipeline_models: dict[str, str]):
    from bot.config import load_config
    from bot.ml import Runtime
    from bot.store import Store

    config = load_config(make_home(tmp_path / "home", pipeline_models))
    store = Store.for_config(config)
    yield store, config, Runtime.from_config(config)
    store.close()


def add_photos(store: Any, config: Any, n: int) -> list[int]:
    from bot.ingest import add_to_library

    looks = list(LOOKS)
    ids = []
    for i in range(n):
        result = add_to_library(store, config, jpeg(looks[i % len(looks)], 40 + i), f"p{i}.jpg")
        assert result.status == "new", result
        ids.append(result.photo_id)
    return ids


def states(store: Any) -> dict[int, str]:
    return {r[0]: r[1] for r in store.all("SELECT id, status FROM photos ORDER BY id")}


def test_new_photos_become_drafts_one_each(setup: Any) -> None:
    from bot.pipeline import process_pending

    store, config, runtime = setup
    ids = add_photos(store, config, 3)
    result = process_pending(store, config, runtime)
    assert (result["analyzed"], result["drafted"], result["deferred"]) == (3, 3, 0)
    assert result["waiting"] == {"new": 0, "analyzed": 0}
    assert set(states(store).values()) == {"drafted"}
    assert sorted(r[0] for r in store.all("SELECT photo_id FROM drafts")) == ids
    # Nothing left: a second call is a no-op.
    again = process_pending(store, config, runtime)
    assert (again["analyzed"], again["drafted"]) == (0, 0)


def test_a_retrain_holding_the_gpu_lock_makes_photos_wait(setup: Any) -> None:
    from bot.pipeline import process_pending

    store, config, runtime = setup
    add_photos(store, config, 2)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
         "lock.acquire(); print('held', flush=True); sys.stdin.read()", str(config.paths.gpu_lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = process_pending(store, config, runtime, lock_timeout=0.2)
        assert result["gpu_busy"] is True
        assert set(states(store).values()) == {"new"}
        # Waiting for the GPU is not a failure: nothing is deferred or marked with an error.
        assert store.value("SELECT count(*) FROM photos WHERE error IS NOT NULL OR retry_after IS NOT NULL") == 0
    finally:
        holder.communicate("", timeout=30)
    result = process_pending(store, config, runtime, lock_timeout=5)
    assert result["gpu_busy"] is False and result["drafted"] == 2


def test_a_stop_request_is_honoured_between_batches(setup: Any) -> None:
    from bot.pipeline import process_pending

    store, config, runtime = setup
    add_photos(store, config, 2)
    stop = threading.Event()
    stop.set()
    result = process_pending(store, config, runtime, stop=stop)
    assert result["stopped"] is True
    assert set(states(store).values()) == {"new"}


def test_an_unreadable_library_file_is_deferred_and_the_others_go_on(setup: Any) -> None:
    from bot.pipeline import process_pending

    store, config, runtime = setup
    bad, *good = add_photos(store, config, 3)
    path = store.abspath(store.photo(bad)["path"])
    path.write_bytes(b"\xff\xd8 truncated")
    result = process_pending(store, config, runtime)
    assert result["drafted"] == 2
    row = store.photo(bad)
    assert row["status"] == "new" and row["error"] and row["retry_after"]
    assert all(states(store)[i] == "drafted" for i in good)


def test_a_corrupt_row_that_breaks_a_whole_batch_is_isolated(setup: Any) -> None:
    """An unexpected error from a stage (here: analysis JSON of the wrong shape) defers only that photo."""
    from bot.pipeline import process_pending

    store, config, runtime = setup
    ids = add_photos(store, config, 4)
    assert process_pending(store, config, runtime, captioner=_missing_captioner(config, runtime))["analyzed"] == 4
    # The caption model was missing: the photos are analyzed, deferred, with the model's error recorded.
    assert set(states(store).values()) == {"analyzed"}
    assert store.get("model_error:captioner")
    store.update("photos", ids[1], analysis=json.dumps({"animals": [1]}))
    from bot.pipeline import retry_deferred_now

    assert retry_deferred_now(store) == 4
    result = process_pending(store, config, runtime)
    assert result["drafted"] == 3 and result["deferred"] == 1
    row = store.photo(ids[1])
    assert row["status"] == "analyzed" and row["error"] and row["retry_after"]
    assert [states(store)[i] for i in (ids[0], ids[2], ids[3])] == ["drafted"] * 3
    assert store.get("model_error:captioner") is None


def _missing_captioner(config: Any, runtime: Any) -> Any:
    from bot.captions import Captioner

    broken = config.model_copy(deep=True)
    broken.models.captioner = str(config.paths.data / "no-such-model")
    return Captioner(broken, runtime)


def test_a_missing_caption_model_leaves_photos_analyzed_and_returns(setup: Any) -> None:
    from bot.pipeline import next_retry, pending_counts, process_pending

    store, config, runtime = setup
    add_photos(store, config, 3)
    result = process_pending(store, config, runtime, captioner=_missing_captioner(config, runtime))
    assert (result["analyzed"], result["drafted"]) == (3, 0)
    assert pending_counts(store) == {"new": 0, "analyzed": 3}
    assert "cannot be loaded" in store.value("SELECT error FROM photos LIMIT 1")
    assert next_retry(store) is not None


def test_without_a_promoted_version_the_base_caption_model_is_used(setup: Any) -> None:
    from bot.pipeline import current_adapter, current_model_version, make_captioner

    _, config, runtime = setup
    assert current_model_version(config) is None
    assert current_adapter(config) is None
    assert make_captioner(config, runtime).adapter_dir is None
