"""`pawpost models download`: every hub model the config runs, fetched from the Hugging Face hub into a folder (or
the hub's own cache), and the [models] lines that load them from that folder on a machine without the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import PawpostError

# What `from_pretrained` never reads for a PyTorch model: other frameworks' and runtimes' weights.
NOT_PYTORCH = ["*.onnx", "*.onnx_data", "onnx/*", "*.msgpack", "*.h5", "*.tflite", "*.ot", "*.gguf", "*.mlmodel",
               "*.mlpackage/*", "coreml/*", "openvino/*", "*.ckpt"]


@dataclass(frozen=True)
class Wanted:
    """A model to fetch: its [models] key, hub id and where it goes (None: the hub's cache)."""

    key: str
    model_id: str
    folder: Path | None


@dataclass(frozen=True)
class Fetched:
    key: str
    model_id: str
    path: str  # the folder it is in now (the cache's snapshot folder without --to)
    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def folder_name(model_id: str) -> str:
    """A hub id as a folder name: 'google/owlv2-base' -> 'google--owlv2-base' (the hub cache's own spelling)."""
    return model_id.replace("/", "--")


def configured(config: Config) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """The hub models this config runs, as (key, hub id), and the model keys it needs nothing fetched for, as
    (key, value, why): the detector 'none', a local folder."""
    from bot.captions.health import local_caption_keys
    from bot.vision.detector import NO_DETECTOR

    m = config.models
    hub: list[tuple[str, str]] = []
    skipped: list[tuple[str, str, str]] = []
    for key in ("detector", "embedder", *local_caption_keys(config)):
        value = str(getattr(m, key) or "")
        if key == "detector" and value.strip().lower() == NO_DETECTOR:
            skipped.append((key, value, "no detector model"))
        elif Path(value).is_absolute():  # the config made a local folder absolute; a hub id stays as written
            skipped.append((key, value, "a local folder already"))
        elif (key, value) not in hub:
            hub.append((key, value))
    return hub, skipped


def plan(config: Config, to: Path | None) -> list[Wanted]:
    hub, _ = configured(config)
    return [Wanted(key, model_id, to / folder_name(model_id) if to else None) for key, model_id in hub]


def download(wanted: list[Wanted], *, starting: Callable[[Wanted], None] | None = None,
             snapshot: Callable[..., Any] | None = None) -> list[Fetched]:
    """Fetch each model (the hub's progress bars on stderr); a model fetched before is only checked, not fetched
    again. PawpostError when the hub cannot be reached or has no such model."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise PawpostError("HF_HUB_OFFLINE is set, so nothing can be downloaded: run 'pawpost models download' "
                           "without it, on a machine that reaches the Hugging Face hub")
    if snapshot is None:
        from huggingface_hub import snapshot_download as snapshot
    done = []
    for want in wanted:
        if starting:
            starting(want)
        done.append(_fetch(want, snapshot))
    return done


def _fetch(want: Wanted, snapshot: Callable[..., Any]) -> Fetched:
    where = {"local_dir": str(want.folder)} if want.folder else {}
    try:
        # The file list first (no download): a repository with safetensors weights also holds the same weights as
        # pytorch_model.bin, which is not fetched then.
        listed = _listing(want, snapshot, where)
        names = [info.filename for info in listed]
        ignore = [*NOT_PYTORCH, "*.bin"] if any(n.endswith(".safetensors") for n in names) else NOT_PYTORCH
        path = snapshot(want.model_id, ignore_patterns=ignore, **where)
    except Exception as exc:
        raise PawpostError(f"models.{want.key} = {want.model_id!r} could not be downloaded: {_why(exc)}") from None
    folder = Path(path)
    files = [p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.relative_to(folder).parts]
    return Fetched(want.key, want.model_id, str(folder), len(files), sum(p.stat().st_size for p in files))


def _listing(want: Wanted, snapshot: Callable[..., Any], where: dict[str, str]) -> list[Any]:
    """The files a download would fetch (a dry run, without progress bars); [] when it cannot say (an older
    huggingface_hub, or a failure the download itself then reports in full)."""
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    disable_progress_bars()
    try:
        return list(snapshot(want.model_id, ignore_patterns=NOT_PYTORCH, dry_run=True, **where))
    except Exception:
        return []
    finally:
        enable_progress_bars()


def _why(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if name in ("RepositoryNotFoundError", "GatedRepoError"):
        return f"the hub has no such public model ({text[:160]}); check the id in [models]"
    if name in ("ConnectError", "ConnectTimeout", "LocalEntryNotFoundError", "OfflineModeIsEnabled", "DryRunError",
                "ReadTimeout", "TimeoutException") or "connect" in text.lower():
        return f"the Hugging Face hub cannot be reached from this machine ({name}); run it where it can"
    return f"{name}: {text[:200]}"


def config_lines(fetched: list[Fetched]) -> list[str]:
    """The [models] table that loads the fetched models from their folders."""
    import json

    # A JSON string is a TOML basic string (the same quotes and escapes).
    return ["[models]", *(f"{f.key} = {json.dumps(f.path, ensure_ascii=False)}" for f in fetched)]
