"""The model-using services for one config, handed out on first use over one Runtime (device, dtype, idle
unload): Vision (which pets are in a photo) and the Captioner (with the promoted caption model version).

One owner per process: the pipeline, the daemon's worker, the CLI and the review site get them here, and every
model job runs inside `using()`, one at a time in this process and under the cross-process GPU lock. Building
one loads nothing; the models load when a batch first needs them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bot.config import Config
from bot.errors import GpuBusy
from bot.runtime.ml import GpuLock, Runtime


class ModelServices:
    """Vision and the Captioner for `config`, each built once, on first use, over one Runtime.

    `vision` and `captioner` may be given (a caller that keeps its own loaded between calls, a test's own).
    """

    def __init__(self, config: Config, runtime: Runtime | None = None, *, vision: Any = None,
                 captioner: Any = None) -> None:
        self.config = config
        self._runtime = runtime
        self._vision = vision
        self._captioner = captioner
        self._caption_version: str | None = None
        # One model job at a time in this process (re-entrant: a job may call another); the GPU lock file makes
        # another process's job (a retrain, `pawpost ingest`, a standalone `pawpost web`) wait too.
        self.lock = threading.RLock()
        self._jobs = 0  # jobs inside `using()` now (a job may hold it again, re-entrantly)
        self._waiting = 0  # jobs of other threads waiting for `lock`
        self._count = threading.Lock()
        self._gpu_lock: GpuLock | None = None

    @property
    def gpu_lock(self) -> GpuLock:
        if self._gpu_lock is None:
            self._gpu_lock = GpuLock(self.config.paths.gpu_lock)
        return self._gpu_lock

    @contextmanager
    def using(self, timeout: float) -> Iterator[None]:
        """Hold the models for one job: this process's other jobs wait, and so does any other process that takes
        the GPU lock. Raises GpuBusy after waiting `timeout` seconds for either."""
        deadline = time.monotonic() + timeout
        with self._count:
            self._waiting += 1
        try:
            acquired = self.lock.acquire(timeout=max(timeout, 0.0))
        finally:
            with self._count:
                self._waiting -= 1
        if not acquired:
            raise GpuBusy("the models are busy with another job in this process; try again in a minute")
        try:
            with ExitStack() as held:
                try:
                    held.enter_context(self.gpu_lock.hold(timeout=max(0.0, deadline - time.monotonic())))
                except TimeoutError:
                    raise GpuBusy(f"the GPU lock {self.gpu_lock.path} is held by another process (a retrain, or "
                                  "pawpost processing photos); try again when it is done") from None
                self._jobs += 1
                try:
                    yield
                finally:
                    self._jobs -= 1
        finally:
            self.lock.release()

    def make_way(self, longest: float = 2.0) -> None:
        """Between two jobs of a long run (the pipeline's batches): let a job that waits for the models (a
        regenerate on the review site) take them first, rather than the run taking them straight back."""
        deadline = time.monotonic() + longest
        while self._waiting and time.monotonic() < deadline:
            time.sleep(0.01)

    def make_room_for_another_process(self) -> bool:
        """When another process holds the GPU lock (a retrain), unload every model so it has the memory; the models
        load again on next use. Never while a job of this process runs (it holds the lock file itself then)."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            if self._jobs or self._runtime is None or not self.gpu_lock.is_held():
                return False
            self._runtime.unload_all()
            return True
        finally:
            self.lock.release()

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.from_config(self.config)
        return self._runtime

    def vision(self) -> Any:
        """The detector + embedder + reference matching (bot.vision.Vision)."""
        if self._vision is None:
            from bot.vision.identify import Vision

            self._vision = Vision(self.config, self.runtime)
        return self._vision

    def captioner(self) -> Any:
        """The caption models, with the promoted LoRA adapter when there is one for the configured base model."""
        if self._captioner is None:
            self._caption_version = current_model_version(self.config)
            self._captioner = make_captioner(self.config, self.runtime)
        return self._captioner

    def caption_version_changed(self) -> tuple[str | None, str | None] | None:
        """When the retraining job promoted (or rolled back) a caption model version since the Captioner was
        built: (old, new) version ids (None: the base model), and the next `captioner()` is the new one.

        None when nothing changed or no Captioner was built yet. Raises PawpostError for an unreadable registry.
        """
        if self._captioner is None:
            return None
        version = current_model_version(self.config)
        if version == self._caption_version:
            return None
        with self.lock:  # not while the review site writes captions with the old one
            old = self._caption_version
            self._captioner.unload()
            self._captioner = None
            self.captioner()
        return old, version

    def unload_all(self) -> None:
        """Free every model this runtime loaded (they load again on next use)."""
        if self._runtime is not None:
            self._runtime.unload_all()


def make_captioner(config: Config, runtime: Runtime) -> Any:
    """The Captioner for the config, with the promoted LoRA adapter when one was trained on this base model."""
    from bot.captions.stage import Captioner

    adapter = current_adapter(config)
    return Captioner(config, runtime, adapter_dir=adapter, style_examples=adapter_style_examples(adapter))


def adapter_style_examples(adapter: Any) -> int | None:
    """How many style examples the adapter was trained to be prompted with (None: captions.style_examples)."""
    if adapter is None:
        return None
    from bot.captions.registry import style_examples_for

    return style_examples_for(adapter)


def current_adapter(config: Config) -> Any:
    """The adapter of the promoted version that writes captions (`Registry.in_use`); None: the base model."""
    from bot.captions.registry import Registry

    version = Registry(config).in_use()
    return version.adapter_dir if version else None


def current_model_version(config: Config) -> str | None:
    """The promoted caption model version (the daemon polls it to reload the Captioner); None: base model."""
    from bot.captions.registry import Registry

    return Registry(config).current_id()
