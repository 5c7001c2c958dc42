"""The small ML runtime every model-using stage shares: device, dtype, lazy load, idle unload, GPU lock.

torch is imported inside functions only, so commands that need no model never pay for it.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import ModelUnavailable, PawpostError

log = logging.getLogger(__name__)

# How a load failure that only the model hub (or a local copy of the model) can cure begins: `hub_unreachable`.
HUB_UNREACHABLE = "it is not in the local cache and the Hugging Face hub cannot be reached"


def hub_unreachable(reason: str | None) -> bool:
    """Whether a model's load failure says the model is not here and the hub cannot be reached."""
    return bool(reason) and HUB_UNREACHABLE in str(reason)


def resolve_device(setting: str = "auto") -> str:
    """`models.device` as a torch device string: auto picks CUDA, then Apple MPS, then the CPU."""
    import torch

    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PawpostError(f"models.device = {setting!r} but no CUDA GPU is available; use 'auto' or 'cpu'")
        index = int(setting.split(":")[1]) if ":" in setting else 0
        if index >= torch.cuda.device_count():
            raise PawpostError(f"models.device = {setting!r} but only {torch.cuda.device_count()} GPU(s) exist")
    if setting == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise PawpostError("models.device = 'mps' but Apple MPS is not available; use 'auto' or 'cpu'")
    return setting


def resolve_dtype(setting: str, device: str) -> Any:
    """`models.dtype` as a torch dtype: auto is bf16 on GPUs that support it, else fp16 on GPU, fp32 on CPU."""
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def prepare_cuda_allocator() -> None:
    """Growing KV caches re-allocate every token; expandable segments let freed blocks be reused instead of
    fragmenting the reserve. Only before CUDA starts, and never over the owner's own setting."""
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")


class Runtime:
    """Device and dtype for this process, and the models it has loaded (so they can be unloaded when idle)."""

    def __init__(self, device: str = "auto", dtype: str = "auto", idle_unload_minutes: float = 10,
                 caption_image_px: int | None = None) -> None:
        self.device_setting = device
        self.dtype_setting = dtype
        self.idle_seconds = idle_unload_minutes * 60
        # The photo size a chat VLM sees, daemon and retrain alike (None: the processor's own default).
        self.caption_image_px = caption_image_px
        # Weak: a model the owner drops (the captioner replaced after a retrain) leaves the registry by itself.
        self._models: weakref.WeakSet[ManagedModel] = weakref.WeakSet()
        self._device: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> Runtime:
        m = config.models
        return cls(m.device, m.dtype, m.idle_unload_minutes, m.caption_image_px)

    @property
    def device(self) -> str:
        if self._device is None:
            prepare_cuda_allocator()  # before CUDA allocates anything
            self._device = resolve_device(self.device_setting)
        return self._device

    @property
    def dtype(self) -> Any:
        return resolve_dtype(self.dtype_setting, self.device)

    def register(self, model: ManagedModel) -> None:
        self._models.add(model)

    def unload_idle(self, now: float | None = None) -> list[str]:
        """Unload every model unused for `idle_unload_minutes`; returns the keys unloaded."""
        now = time.monotonic() if now is None else now
        done = []
        for model in list(self._models):
            if model.unload_if_idle(now, self.idle_seconds):
                done.append(model.key)
        return done

    def unload_all(self) -> None:
        for model in list(self._models):
            model.unload()


class ManagedModel:
    """A model that loads on first use and can be unloaded, returning its memory.

    Subclasses implement `_load()` (set attributes from `self.model_id` on `self.runtime.device`) and
    list those attributes in `weights` so `unload()` can drop them; prediction methods wrap their work in
    `with self.use():`.
    """

    key = "model"  # the config key under [models], for messages
    weights: tuple[str, ...] = ("model", "processor")

    def __init__(self, model_id: str, runtime: Runtime) -> None:
        self.model_id = model_id
        self.runtime = runtime
        self.loaded = False
        self.busy = 0
        self.last_used = time.monotonic()
        self._lock = threading.RLock()
        runtime.register(self)

    def _load(self) -> None:
        raise NotImplementedError

    def load(self) -> None:
        """Load now (idempotent); a failure is a ModelUnavailable naming the model and the reason."""
        with self._lock:
            if self.loaded:
                return
            started = time.monotonic()
            quiet_transformers()
            try:
                ensure_obtainable(self.key, self.model_id)
                self._load()
            except ModelUnavailable:
                self._drop()
                raise
            except Exception as exc:  # any loader failure: missing files, no network, out of memory
                self._drop()
                raise ModelUnavailable(self.key, self.model_id, explain_load_error(exc)) from exc
            self.loaded = True
            self.last_used = time.monotonic()
            log.info("loaded models.%s %s on %s in %.1fs", self.key, self.model_id, self.runtime.device,
                     time.monotonic() - started)

    def unload(self) -> None:
        with self._lock:
            if not self.loaded:
                return
            self._drop()
            self.loaded = False
            log.info("unloaded models.%s %s", self.key, self.model_id)

    def unload_if_idle(self, now: float, idle_seconds: float) -> bool:
        """Unload if loaded, not in use and unused for `idle_seconds`; checked under the lock, so a batch that
        starts meanwhile (another thread) never loses its model halfway."""
        with self._lock:
            if not self.loaded or self.busy or now - self.last_used < idle_seconds:
                return False
            self.unload()
            return True

    def _drop(self) -> None:
        for name in self.weights:
            if hasattr(self, name):
                setattr(self, name, None)
        free_memory()

    @contextmanager
    def use(self) -> Iterator[None]:
        """Mark the model busy for a batch: loads it if needed, and it is not unloaded meanwhile."""
        with self._lock:
            self.load()
            self.busy += 1
        try:
            yield
        finally:
            with self._lock:
                self.busy -= 1
                self.last_used = time.monotonic()


def quiet_transformers() -> None:
    """No download or weight-loading progress bars, no retry chatter: they would interleave with the CLI's output
    and the logs (a failed load is reported once, by `ManagedModel.load`)."""
    import huggingface_hub.utils.logging as hub_logging
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    hub_logging.set_verbosity_error()


def ensure_obtainable(key: str, model_id: str, timeout: float = 3.0) -> None:
    """Fail at once when a hub model is neither in the local cache nor downloadable.

    Without this, an offline machine spends half a minute of HTTP retries on every load attempt before the
    photo is deferred. A local folder, a cached model, or a reachable hub (directly or through a proxy) pass.
    """
    if Path(model_id).expanduser().exists():
        return
    if model_id.startswith(("/", ".", "~")):
        raise ModelUnavailable(key, model_id, "no such folder; fix the path in [models] or remove the key")
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return
    unreachable = HUB_UNREACHABLE
    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(key, model_id, f"{unreachable} (HF_HUB_OFFLINE is set)")
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # the proxy decides; let the download try
    from urllib.parse import urlparse

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as exc:
        raise ModelUnavailable(key, model_id, f"{unreachable} ({host}: {exc.strerror or exc})") from None


def free_memory() -> None:
    """Return freed tensors' memory: collect cycles, then empty the CUDA cache if torch is in use."""
    gc.collect()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def explain_load_error(exc: BaseException) -> str:
    """One sentence for the owner about why a model did not load."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    name = type(exc).__name__
    if "out of memory" in text.lower() or name == "OutOfMemoryError":
        return "not enough GPU memory; set models.device = 'cpu', or a smaller model"
    if any(s in text for s in ("offline", "Connection", "resolve", "huggingface.co", "Max retries", "hub")):
        return f"{HUB_UNREACHABLE} ({name})"
    if name in ("OSError", "EnvironmentError", "FileNotFoundError", "RepositoryNotFoundError", "HFValidationError"):
        return f"no such model folder or hub id ({text[:200]})"
    return f"{name}: {text[:200]}"


class GpuLock:
    """The lock file a retrain holds so the daemon waits instead of competing for GPU memory."""

    def __init__(self, path: str | Path) -> None:
        from filelock import FileLock

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path))

    @contextmanager
    def hold(self, timeout: float = -1) -> Iterator[None]:
        """Hold the lock; wait up to `timeout` seconds (-1: forever). Raises TimeoutError when it is busy."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            raise TimeoutError(f"the GPU lock {self.path} is held by another process (a retrain?)") from None
        try:
            try:
                self.path.with_suffix(".owner").write_text(str(os.getpid()))
            except OSError:
                pass
            yield
        finally:
            self._lock.release()

    def is_held(self) -> bool:
        """Whether another process holds the lock right now."""
        from filelock import FileLock, Timeout

        probe = FileLock(str(self.path))
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False


def gpu_memory() -> dict[str, float] | None:
    """Allocated / reserved / total GPU memory in MiB, or None without CUDA (for doctor and benchmarks)."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return {
        "allocated_mib": torch.cuda.memory_allocated() / 2**20,
        "reserved_mib": torch.cuda.memory_reserved() / 2**20,
        "free_mib": free / 2**20,
        "total_mib": total / 2**20,
    }
