"""bot/runtime/services.py: Vision and the Captioner are built once, on first use, over one runtime, load nothing
until a batch needs them, and the Captioner follows the promoted caption model version."""

from __future__ import annotations

from typing import Any

from bot.runtime.ml import Runtime
from bot.runtime.services import ModelServices


def test_each_service_is_built_once_over_one_runtime_and_loads_nothing(config: Any) -> None:
    services = ModelServices(config)
    vision, captioner = services.vision(), services.captioner()
    assert services.vision() is vision and services.captioner() is captioner
    assert vision.runtime is services.runtime
    assert all(m.runtime is services.runtime for m in captioner.models)
    assert not vision.detector.loaded and not vision.embedder.loaded
    assert captioner.models and not any(m.loaded for m in captioner.models)
    assert captioner.adapter_dir is None  # no promoted version: the base model


def test_what_the_caller_gives_is_used_as_is(config: Any) -> None:
    runtime = Runtime("cpu", "float32")
    mine_vision, mine_captioner = object(), object()
    services = ModelServices(config, runtime, vision=mine_vision, captioner=mine_captioner)
    assert services.runtime is runtime
    assert services.vision() is mine_vision and services.captioner() is mine_captioner


def test_a_promoted_caption_model_replaces_the_captioner_and_a_rollback_undoes_it(config: Any) -> None:
    from bot.captions.registry import Decision, Registry

    services = ModelServices(config)
    assert services.caption_version_changed() is None  # no Captioner yet: nothing to replace
    first = services.captioner()
    assert services.caption_version_changed() is None and services.captioner() is first

    registry = Registry(config)
    version = registry.create("vlm", config.models.captioner)
    version.adapter_dir.mkdir()
    registry.finish(version, metrics={}, counts={}, keys=[], decision=Decision(True, "better"))
    assert services.caption_version_changed() == (None, version.id)
    second = services.captioner()
    assert second is not first and second.adapter_dir == version.adapter_dir
    assert services.caption_version_changed() is None

    registry.rollback()
    assert services.caption_version_changed() == (version.id, None)
    assert services.captioner().adapter_dir is None


class _Model:
    """Stands in for a loaded model: records whether it was unloaded."""

    key = "model"

    def __init__(self, runtime: Runtime) -> None:
        self.loaded = True
        runtime._models.add(self)

    def unload(self) -> None:
        self.loaded = False


def test_one_model_job_at_a_time_in_the_process_and_across_processes(config: Any) -> None:
    import threading

    import pytest

    from bot.errors import GpuBusy
    from tests.bot.conftest import OtherProcessHoldsGpuLock

    models = ModelServices(config, Runtime("cpu"))
    entered = threading.Event()
    with models.using(timeout=1):
        # Another thread of this process waits, then is told the models are busy.
        def other() -> None:
            with pytest.raises(GpuBusy, match="another job in this process"), models.using(timeout=0.2):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
        assert not entered.is_set()
        # While this process's job holds the GPU lock, it is not another process's: nothing is unloaded.
        model = _Model(models.runtime)
        assert models.make_room_for_another_process() is False and model.loaded
    with models.using(timeout=1):  # released: the same wait now succeeds (the positive control)
        entered.set()
    # Another process holding the GPU lock: a job here waits for it, and the loaded models make room.
    holder = OtherProcessHoldsGpuLock(config.paths.gpu_lock)
    try:
        with pytest.raises(GpuBusy, match="held by another process"), models.using(timeout=0.2):
            pass
        assert models.make_room_for_another_process() is True and not model.loaded
    finally:
        holder.release()
    with models.using(timeout=5):
        pass
