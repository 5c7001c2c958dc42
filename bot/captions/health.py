"""`pawpost doctor` lines for the caption models: the chat VLM's runtime extras, last load error, and
whether each model is at hand offline (a local folder or the Hugging Face cache; the hub is never contacted).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

from bot.captions.registry import caption_model
from bot.check import Check
from bot.config import Config
from bot.runtime.model_errors import Recheck, failed_model_check, model_errors_for
from bot.runtime.model_files import local_model_check

# The runtime extras some chat VLMs' processors import (SmolVLM2's needs num2words; its and Qwen2-VL's video
# processors need torchvision): whether a given model needs them is asked of its own processor, never guessed.
VLM_EXTRA = ("torchvision", "num2words")


def local_caption_keys(config: Config) -> tuple[str, ...]:
    """The [models] keys of the local caption models this config runs: the chat VLM, or describer + writer; beside an
    inference server, the describer (writer role) and the writer a retrain tunes."""
    m = config.models
    if m.uses_server:
        return tuple(k for k in ("describer", "writer") if getattr(m, k) and m.server_writes_after_describer)
    writes = caption_model(config)
    return ("describer", writes.key) if m.two_stage else (writes.key,)


def caption_checks(config: Config, recheck: Recheck | None = None) -> Iterator[Check]:
    """`recheck(key)` loads a model whose last load failed, as the stage would: None when it loads now, else why not
    (without it, the remembered failure is reported)."""
    m = config.models
    writes = caption_model(config)
    keys = local_caption_keys(config)
    if m.uses_server:
        from bot.captions.server_health import server_checks

        yield from server_checks(config)
    errors = model_errors_for(config, keys)
    if writes.backend == "vlm":
        yield _runtime_check(writes.model_id)
    for key in keys:
        model_id = getattr(m, key)
        if errors.get(key):
            yield failed_model_check(key, model_id, errors[key], recheck, "analyzed photos")
        elif (local := local_model_check(key, model_id)) is not None:
            yield local
        elif _cached_file(model_id, "config.json"):
            yield Check(f"model {key}", True, f"{model_id} (in the local model cache)")
        else:
            yield Check(f"model {key}", True, f"{model_id} is not downloaded yet; it is fetched from the Hugging Face "
                        "hub on first use, so the first drafts need network", warning=True)


def _runtime_check(model_id: str) -> Check:
    """Whether the captioner's processor loads here, asked of the processor itself the way the loader loads it
    (from the local folder or the model cache, offline); before the model is downloaded nothing can be known."""
    missing = [name for name in VLM_EXTRA if importlib.util.find_spec(name) is None]
    folder = Path(model_id)
    at_hand = folder.is_dir() or _cached_file(model_id, "config.json") is not None
    if not at_hand:
        if not missing:
            return Check("captioner runtime", True, "torchvision and num2words are installed (the vlm extra)")
        return Check("captioner runtime", True, f"models.captioner is not downloaded yet, so what its processor "
                     f"needs is checked once it is; {' and '.join(missing)} not installed (SmolVLM2 and Qwen2-VL "
                     "processors need them: pip install 'pawpost[vlm]')", warning=True)
    try:
        _load_processor(model_id)
    except Exception as exc:  # an ImportError, or transformers' own failure without an optional package
        named = [name for name in VLM_EXTRA if name in str(exc)]
        needs = f", it needs {' and '.join(named)}" if named else ""
        hint = "; install the extra: pip install 'pawpost[vlm]'" if named or missing else ""
        kind = _model_type(model_id) or model_id
        return Check("captioner runtime", False, f"the processor of models.captioner ({kind}) does not load "
                     f"here{needs} ({_first_line(exc)}){hint}")
    return Check("captioner runtime", True, f"its processor loads ({_model_type(model_id) or model_id})")


def _load_processor(model_id: str) -> object:
    """The processor as the caption backend loads it (bot.captions.backends), offline."""
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(model_id, local_files_only=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _model_type(model_id: str) -> str | None:
    folder = Path(model_id)
    path = folder / "config.json" if folder.is_dir() else _cached_file(model_id, "config.json")
    try:
        return json.loads(Path(path).read_text()).get("model_type") if path else None
    except (OSError, ValueError):
        return None


def _cached_file(model_id: str, filename: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, filename)
    except Exception:  # not a valid repo id, or no hub library: not cached
        return None
    return found if isinstance(found, str) else None
