"""bot/pipeline.py: photos carried new -> analyzed -> drafted with real tiny models, the GPU lock, bad rows."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.bot.conftest import pipeline_home
from tests.tiny_vision import LOOKS, pet_jpeg


@pytest.fixture
def setup(tmp_path: Path, pipeline_models: dict[str, str]):
    from bot.config import load_config
    from bot.runtime.ml import Runtime
    from bot.store.database import Store

    config = load_config(pipeline_home(tmp_path / "home", pipeline_models))
    store = Store.for_config(config)
    yield store, config, Runtime.from_config(config)
    store.close()


def add_photos(store: Any, config: Any, n: int, first: int = 0) -> list[int]:
    from bot.ingest.intake import add_to_library

    looks = list(LOOKS)
    ids = []
    for i in range(first, first + n):
        result = add_to_library(store, config, pet_jpeg(looks[i % len(looks)], 40 + i), f"p{i}.jpg")
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
    assert sorted(r[0] for r in store.all("SELECT photo_id FROM draft_media")) == ids
    # Nothing left: a second call is a no-op.
    again = process_pending(store, config, runtime)
    assert (again["analyzed"], again["drafted"]) == (0, 0)


def test_the_caption_stage_drafts_exactly_the_batch_it_is_given(setup: Any) -> None:
    """The pipeline picks each batch and hands its ids to the stage, which does not look for more."""
    from bot.captions.stage import draft_photos
    from bot.runtime.services import ModelServices
    from bot.vision.analyze import analyze_new

    store, config, runtime = setup
    ids = add_photos(store, config, 3)
    models = ModelServices(config, runtime)
    assert analyze_new(store, config, models.vision()) == 3
    assert draft_photos(store, config, models.captioner(), ids[:2], vision=models.vision()) == 2
    assert [states(store)[i] for i in ids] == ["drafted", "drafted", "analyzed"]
    assert draft_photos(store, config, models.captioner(), ids[:2]) == 0  # drafted already: no second draft
    assert store.value("SELECT count(*) FROM drafts") == 2


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
    from bot.ingest.photo_queue import retry_deferred_now

    assert retry_deferred_now(store) == 4
    result = process_pending(store, config, runtime)
    assert result["drafted"] == 3 and result["deferred"] == 1
    row = store.photo(ids[1])
    assert row["status"] == "analyzed" and row["error"] and row["retry_after"]
    assert [states(store)[i] for i in (ids[0], ids[2], ids[3])] == ["drafted"] * 3
    assert store.get("model_error:captioner") is None


def _missing_captioner(config: Any, runtime: Any) -> Any:
    from bot.captions.stage import Captioner

    broken = config.model_copy(deep=True)
    broken.models.captioner = str(config.paths.data / "no-such-model")
    return Captioner(broken, runtime)


def test_a_missing_caption_model_leaves_photos_analyzed_and_returns(setup: Any) -> None:
    from bot.ingest.photo_queue import next_retry, pending_counts
    from bot.pipeline import process_pending

    store, config, runtime = setup
    add_photos(store, config, 3)
    result = process_pending(store, config, runtime, captioner=_missing_captioner(config, runtime))
    assert (result["analyzed"], result["drafted"]) == (3, 0)
    assert pending_counts(store) == {"new": 0, "analyzed": 3}
    assert "cannot be loaded" in store.value("SELECT error FROM photos LIMIT 1")
    assert next_retry(store) is not None


def test_without_a_promoted_version_the_base_caption_model_is_used(setup: Any) -> None:
    from bot.runtime.services import current_adapter, current_model_version, make_captioner

    _, config, runtime = setup
    assert current_model_version(config) is None
    assert current_adapter(config) is None
    assert make_captioner(config, runtime).adapter_dir is None


# -- GPU out of memory: the batch is halved and the same photos go through at once ---------------------------

def _oom_when_batched(monkeypatch: pytest.MonkeyPatch, model_class: Any, calls: list[int], *, always: bool = False):
    """The model's forward raises CUDA out-of-memory for more than one photo (or always): the card's behaviour
    with a batch too big for it, without a card."""
    import torch

    forward = model_class.forward

    def limited(self: Any, *args: Any, **kwargs: Any) -> Any:
        pixels = kwargs.get("pixel_values")
        if pixels is not None:
            calls.append(int(pixels.shape[0]))
            if always or pixels.shape[0] > 1:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "forward", limited)


@pytest.mark.parametrize("stage", ["vision", "captions"])
def test_out_of_memory_halves_the_batch_retries_the_same_photos_and_remembers(
        setup: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, stage: str) -> None:
    from transformers import Idefics3ForConditionalGeneration, Owlv2ForObjectDetection

    from bot.pipeline import process_pending
    from bot.runtime.budget import BatchPlanner

    store, config, runtime = setup
    if stage == "vision":  # the pets' reference photos are detected once, beforehand, as in a running bot
        from bot.vision.identify import Vision
        from bot.vision.pets import references

        references(store, config, Vision(config, runtime))
    calls: list[int] = []
    model = Owlv2ForObjectDetection if stage == "vision" else Idefics3ForConditionalGeneration
    _oom_when_batched(monkeypatch, model, calls)
    ids = add_photos(store, config, 3)
    assert BatchPlanner(store, config, runtime).size(stage) == 2  # models.batch_size on the CPU
    with caplog.at_level("INFO", logger="bot.pipeline"):
        result = process_pending(store, config, runtime)
    # Every photo drafted, none deferred or marked with an error: the batch of 2 ran out, then 1 + 1 + 1.
    assert (result["analyzed"], result["drafted"], result["deferred"]) == (3, 3, 0)
    assert set(states(store).values()) == {"drafted"}
    assert store.value("SELECT count(*) FROM photos WHERE error IS NOT NULL OR retry_after IS NOT NULL") == 0
    assert sorted(r[0] for r in store.all("SELECT photo_id FROM draft_media")) == ids
    warnings = [r for r in caplog.records if "out of GPU memory" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert "2 photos per batch" in warnings[0].getMessage() and "1 per batch from now on" in warnings[0].getMessage()
    assert calls.count(2) == 1 and [c for c in calls if c > 1] == [2]
    # Remembered (in the database): the next run starts at 1 and never tries 2 again.
    assert BatchPlanner(store, config, runtime).size(stage) == 1
    calls.clear()
    more = add_photos(store, config, 2, first=3)
    assert process_pending(store, config, runtime)["drafted"] == 2
    assert {states(store)[i] for i in more} == {"drafted"}
    assert calls and set(calls) == {1}


def test_a_photo_that_does_not_fit_even_alone_waits_for_a_retry(
        setup: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Out of memory at one photo: every model is unloaded and it is tried once more; then it is deferred (retried
    later with backoff), never failed or stuck, and the others still go on."""
    from transformers import Idefics3ForConditionalGeneration

    from bot.pipeline import process_pending

    store, config, runtime = setup
    calls: list[int] = []
    _oom_when_batched(monkeypatch, Idefics3ForConditionalGeneration, calls, always=True)
    add_photos(store, config, 2)
    with caplog.at_level("INFO", logger="bot.pipeline"):
        result = process_pending(store, config, runtime)
    assert result["analyzed"] == 2 and result["drafted"] == 0 and result["deferred"] >= 1
    rows = store.all("SELECT status, error, retry_after FROM photos")
    assert {r["status"] for r in rows} == {"analyzed"}
    deferred = [r for r in rows if r["retry_after"]]
    assert deferred and all("not enough GPU memory" in r["error"] for r in deferred)
    assert any("unloaded every model" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)  # the owner sees lines, not tracebacks
