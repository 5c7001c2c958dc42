"""The ML runtime: device and dtype, lazy load, idle unload (memory really dropped), GPU lock, load failures."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest
import torch

from bot.errors import ModelUnavailable, PawpostError
from bot.runtime.ml import GpuLock, ManagedModel, Runtime, explain_load_error, resolve_device, resolve_dtype
from tests import tiny_vision


class TinyModel(ManagedModel):
    """A real transformers model behind the runtime, as every stage uses it."""

    key = "embedder"

    def _load(self) -> None:
        from transformers import AutoModel

        self.model = AutoModel.from_pretrained(self.model_id, dtype=self.runtime.dtype).to(self.runtime.device)
        self.processor = None

    def predict(self) -> torch.Size:
        with self.use(), torch.inference_mode():
            return self.model(pixel_values=torch.zeros(1, 3, 32, 32)).last_hidden_state.shape


@pytest.fixture(scope="module")
def dinov2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_vision.build_dinov2(tmp_path_factory.mktemp("ml") / "dinov2")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only resolution")
def test_device_and_dtype_on_cpu() -> None:
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(PawpostError, match="no CUDA GPU"):
        resolve_device("cuda:1")
    runtime = Runtime("auto", "auto", 10)
    assert (runtime.device, runtime.dtype) == ("cpu", torch.float32)


def test_loads_lazily_on_first_use(dinov2: Path) -> None:
    runtime = Runtime("cpu", "auto", 10)
    model = TinyModel(str(dinov2), runtime)
    assert not model.loaded and getattr(model, "model", None) is None
    assert model.predict()[0] == 1
    assert model.loaded
    first = model.model
    model.predict()
    assert model.model is first  # loaded once, not per call


def test_unloads_after_idle_and_drops_the_weights(dinov2: Path) -> None:
    runtime = Runtime("cpu", "auto", idle_unload_minutes=0.5)
    model = TinyModel(str(dinov2), runtime)
    model.predict()
    weights = weakref.ref(model.model)
    used = model.last_used
    assert runtime.unload_idle(now=used + 10) == []  # 10 s idle: kept
    assert model.loaded
    assert runtime.unload_idle(now=used + 31) == ["embedder"]
    assert not model.loaded and model.model is None
    gc.collect()
    assert weights() is None  # nothing still holds the weights: their memory is returned
    assert model.predict()[0] == 1  # and it loads again on the next use
    assert model.loaded


def test_a_model_in_use_is_not_unloaded(dinov2: Path) -> None:
    runtime = Runtime("cpu", "auto", idle_unload_minutes=0)
    model = TinyModel(str(dinov2), runtime)
    with model.use():
        assert runtime.unload_idle(now=time.monotonic() + 3600) == []
        assert model.model is not None
    assert runtime.unload_idle(now=time.monotonic() + 3600) == ["embedder"]


def test_a_model_that_cannot_load_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    # The hub library reads HF_HUB_OFFLINE once, at import; it may have been imported before the env was set.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    runtime = Runtime("cpu", "auto", 10)
    missing = TinyModel(str(tmp_path / "no-such-model"), runtime)
    with pytest.raises(ModelUnavailable) as err:
        missing.predict()
    assert err.value.key == "embedder"
    assert "no such folder" in err.value.reason
    assert str(tmp_path / "no-such-model") in str(err.value)
    assert not missing.loaded

    # A hub id that is not cached, with the hub unreachable (tests run offline).
    offline = TinyModel("pawpost-tests/not-a-real-model", runtime)
    with pytest.raises(ModelUnavailable, match="cannot be reached"):
        offline.load()

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match=r"models\.embedder"):
        TinyModel(str(broken), runtime).load()


def test_out_of_memory_is_explained() -> None:
    reason = explain_load_error(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert "not enough GPU memory" in reason and "models.device" in reason


HOLDER = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""


def test_gpu_lock_held_by_another_process_makes_a_waiter_wait(tmp_path: Path) -> None:
    path = tmp_path / "data" / "gpu.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = GpuLock(path)
        assert lock.is_held()
        with pytest.raises(TimeoutError, match="held by another process"), lock.hold(timeout=0.1):
            pass

        acquired = threading.Event()

        def waiter() -> None:
            with lock.hold(timeout=60):
                acquired.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        assert not acquired.wait(0.3)  # still waiting while the other process holds it
        holder.stdin.write("release\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        thread.join(30)
        assert acquired.is_set()
        assert not lock.is_held()
    finally:
        holder.kill()
        holder.wait()


def test_a_dropped_model_leaves_the_runtime(tmp_path) -> None:
    import gc

    from bot.runtime.ml import ManagedModel, Runtime

    class Thing(ManagedModel):
        key = "thing"

        def _load(self) -> None:
            self.model = object()

    runtime = Runtime("cpu", "auto", 0)
    kept, dropped = Thing(str(tmp_path), runtime), Thing(str(tmp_path), runtime)
    kept.load()
    dropped.load()
    del dropped
    gc.collect()
    assert runtime.unload_idle() == ["thing"] and not kept.loaded


def test_an_uncached_hub_model_fails_at_once_when_offline(tmp_path, monkeypatch) -> None:
    import huggingface_hub.constants
    import pytest

    from bot.errors import ModelUnavailable
    from bot.runtime.ml import ensure_obtainable

    ensure_obtainable("embedder", str(tmp_path))  # a local folder always passes
    with pytest.raises(ModelUnavailable, match="no such folder"):
        ensure_obtainable("embedder", str(tmp_path / "missing"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelUnavailable, match="not in the local cache and the Hugging Face hub cannot be reached"):
        ensure_obtainable("detector", "google/owlv2-base-patch16-ensemble")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://hub.invalid")
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ModelUnavailable, match=r"hub\.invalid"):
        ensure_obtainable("detector", "google/owlv2-base-patch16-ensemble")
