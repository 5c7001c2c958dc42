"""The caption model registry: one folder per retrain (`data/models/captioner/vNNN/`) and the `current` pointer,
and which model writes the captions (`caption_model`, `Registry.in_use`).

A version holds its LoRA adapter, metrics, data counts and base model id; promotion and rollback only ever
switch `current.json`, written atomically, which is what the daemon polls (`current_id()`) to reload.
`pawpost retrain` (training/) writes versions; the daemon, status and the review site only read them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import NotFound, PawpostError
from bot.files import write_atomic

VERSION_RE = re.compile(r"v(\d{3,})")
POINTER = "current.json"
META = "version.json"
METRICS = "metrics.json"
EXAMPLES = "examples.json"
ADAPTER = "adapter"


@dataclass(frozen=True)
class CaptionModel:
    """The configured model that writes the captions: the one a retrain tunes and a promoted adapter goes on."""

    key: str  # its key under [models]: "captioner" (a chat VLM), "writer" (after models.describer) or "server"
    model_id: str
    backend: str  # the registry's name for its kind (`Version.backend`): "vlm", "writer" or "server" (never trained)

    @property
    def trainable(self) -> bool:
        return self.backend != SERVER


SERVER = "server"


def caption_model(config: Config) -> CaptionModel:
    """Which configured model writes captions (and is retrained): the writer of a describer+writer pair, otherwise
    the chat VLM. An inference server's model cannot be fine-tuned here: with a server, the local models.writer
    is the one a retrain tunes (and, once promoted, it writes instead of the server); without one, the server."""
    m = config.models
    if m.uses_server and not (m.server_writes_after_describer and m.writer):
        return CaptionModel(SERVER, m.server_model, SERVER)
    if m.two_stage:
        return CaptionModel("writer", m.writer, "writer")
    return CaptionModel("captioner", m.captioner, "vlm")


def retrain_off(config: Config) -> str | None:
    """Why retraining is off (an inference server writes the captions and no local writer is configured to be
    tuned instead), or None when it runs."""
    tuned = caption_model(config)
    if tuned.trainable:
        return None
    m = config.models
    how = ('configure a local models.writer next to server_role = "writer": a retrain tunes that writer, and once '
           "one is promoted it writes the captions here instead of the server" if m.server_writes_after_describer
           else 'use server_role = "writer" behind the local describer, with a local models.writer to tune')
    return (f"retraining is off: the captions come from {m.server_model!r} on the inference server ({m.server}), "
            f"which pawpost cannot fine-tune; to retrain in the account's voice, {how}")


@dataclass
class Version:
    """One retrain's result, promoted or not."""

    id: str
    path: Path
    created_at: str
    backend: str  # "vlm" (chat model on photo + prompt) or "writer" (text model on description + prompt)
    base_model: str
    counts: dict[str, int] = field(default_factory=dict)
    # {"old": {...}, "new": {...}, "gate": {metric: {old, new, change, low, high}, checks, method}, "plan": ...}
    metrics: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False
    promoted_at: str | None = None
    reason: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    current: bool = False

    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["adapter_dir"] = str(self.adapter_dir)
        return out


@dataclass
class Decision:
    promote: bool
    reason: str


class Registry:
    """The versions under `data/models/captioner/` and which one is current."""

    def __init__(self, config: Config) -> None:
        self.root = config.paths.models / "captioner"
        self.caption_model = caption_model(config)

    # -- reading ------------------------------------------------------------------------------

    def current_id(self) -> str | None:
        """The promoted version in use, or None for the base model. Cheap: the daemon polls it."""
        return self._pointer().get("version")

    def current(self) -> Version | None:
        vid = self.current_id()
        return self.version(vid) if vid else None

    def versions(self) -> list[Version]:
        """Every finished version, oldest first (a retrain still running or killed has no version.json)."""
        if not self.root.is_dir():
            return []
        current = self.current_id()
        out = []
        for path in sorted(self.root.iterdir(), key=_version_number):
            if VERSION_RE.fullmatch(path.name) and (path / META).is_file():
                out.append(self._read(path, current))
        return out

    def version(self, vid: str) -> Version:
        path = self.root / vid
        if not VERSION_RE.fullmatch(vid) or not (path / META).is_file():
            raise NotFound(f"there is no caption model version {vid!r} (see 'pawpost models list')")
        return self._read(path, self.current_id())

    def adapter_dir(self, version: Version | str) -> Path:
        return (version if isinstance(version, Version) else self.version(version)).adapter_dir

    def current_adapter(self, base_model: str) -> Path | None:
        """The current adapter if it was trained on `base_model` (a changed model in the config makes it stale)."""
        version = self.current()
        return version.adapter_dir if _runs_on(version, base_model) else None

    def in_use(self) -> Version | None:
        """The promoted version that writes captions now; None: the configured caption model alone (nothing
        promoted, or the current version was trained on another base model than the configured one)."""
        version = self.current()
        return version if _runs_on(version, self.caption_model.model_id) else None

    def last_run(self) -> Version | None:
        """The newest finished version, promoted or not: 'new posts since the last run' counts from it."""
        versions = self.versions()
        return versions[-1] if versions else None

    def examples(self, version: Version) -> list[str]:
        """The example keys a version was trained and judged on."""
        path = version.path / EXAMPLES
        if not path.is_file():
            return []
        return list(json.loads(path.read_text(encoding="utf-8")).get("keys", []))

    # -- writing ------------------------------------------------------------------------------

    def create(self, backend: str, base_model: str, settings: dict[str, Any] | None = None) -> Version:
        """A new, unfinished version folder (vNNN, the next free number). `finish` or `discard` it."""
        self.root.mkdir(parents=True, exist_ok=True)
        taken = [_version_number(p) for p in self.root.iterdir() if VERSION_RE.fullmatch(p.name)]
        number = max(taken, default=0) + 1
        while True:
            path = self.root / f"v{number:03d}"
            try:
                path.mkdir()  # exclusive: two retrains can never share a folder
                break
            except FileExistsError:
                number += 1
        return Version(id=path.name, path=path, created_at=timeutil.iso(timeutil.now()), backend=backend,
                       base_model=base_model, settings=dict(settings or {}))

    def finish(self, version: Version, *, metrics: dict[str, Any], counts: dict[str, int], keys: list[str],
               decision: Decision) -> Version:
        """Record a trained and evaluated version, then promote it when the decision says so."""
        version.metrics, version.counts, version.reason = metrics, counts, decision.reason
        write_atomic(version.path / METRICS, _dumps(metrics))
        write_atomic(version.path / EXAMPLES, _dumps({"keys": keys}))
        self._write_meta(version)  # from here on it is listed
        if decision.promote:
            self.promote(version.id, decision.reason)
        return self.version(version.id)

    def discard(self, version: Version) -> None:
        """Remove an unfinished version (training stopped or failed)."""
        shutil.rmtree(version.path, ignore_errors=True)

    def promote(self, vid: str, reason: str = "promoted by hand") -> Version:
        """Make `vid` current; the previous current one stays in the history for rollback."""
        with self._locked():
            version = self.version(vid)
            version.promoted, version.promoted_at, version.reason = True, timeutil.iso(timeutil.now()), reason
            self._write_meta(version)
            pointer = self._pointer()
            history = [v for v in pointer.get("history", []) if v != vid] + [vid]
            self._write_pointer(vid, history)
        return self.version(vid)

    def rollback(self) -> Version | None:
        """Return to the version promoted before the current one (None: the base model without adapter)."""
        with self._locked():
            pointer = self._pointer()
            history = [v for v in pointer.get("history", []) if (self.root / v / META).is_file()]
            if not pointer.get("version") or not history:
                raise PawpostError("there is no promoted caption model to roll back from; the base model is in use")
            history = history[:-1]
            previous = history[-1] if history else None
            self._write_pointer(previous, history)
        return self.version(previous) if previous else None

    # -- files --------------------------------------------------------------------------------

    def _pointer(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / POINTER).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise PawpostError(f"{self.root / POINTER} is unreadable ({exc}); fix it or run "
                               "'pawpost models rollback'") from None

    def _write_pointer(self, vid: str | None, history: list[str]) -> None:
        data = {"version": vid, "history": history, "updated_at": timeutil.iso(timeutil.now())}
        write_atomic(self.root / POINTER, _dumps(data))

    def _write_meta(self, version: Version) -> None:
        meta = {k: v for k, v in version.to_json().items()
                if k not in ("id", "path", "adapter_dir", "current", "metrics")}
        write_atomic(version.path / META, _dumps(meta))

    def _read(self, path: Path, current: str | None) -> Version:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        metrics_file = path / METRICS
        metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}
        return Version(id=path.name, path=path, metrics=metrics, current=path.name == current,
                       **{k: v for k, v in meta.items() if k in _META_FIELDS})

    @contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".registry.lock")):
            yield


_META_FIELDS = {"created_at", "backend", "base_model", "counts", "promoted", "promoted_at", "reason", "settings"}


def _runs_on(version: Version | None, base_model: str) -> bool:
    return version is not None and version.base_model == base_model and version.adapter_dir.is_dir()


def _version_number(path: Path) -> int:
    match = VERSION_RE.fullmatch(path.name)
    return int(match.group(1)) if match else -1


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def style_examples_for(adapter_dir: Path) -> int | None:
    """How many style examples the version owning `adapter_dir` was trained with, so the daemon prompts it the
    same way; None for an adapter from before this was recorded (captions.style_examples then applies)."""
    meta = Path(adapter_dir).parent / META
    try:
        value = json.loads(meta.read_text(encoding="utf-8")).get("settings", {}).get("style_examples")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None
