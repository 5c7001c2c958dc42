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
from bot.runtime.model_errors import model_errors_for

# Model types whose processors need the `vlm` extra at run time (their video processors import torchvision).
NEEDS_VLM_EXTRA = {"smolvlm", "qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl"}
VLM_EXTRA = ("torchvision", "num2words")


def caption_checks(config: Config) -> Iterator[Check]:
    m = config.models
    writes = caption_model(config)
    keys = ("describer", writes.key) if m.two_stage else (writes.key,)
    if m.uses_server:
        from bot.captions.server_health import server_checks

        yield from server_checks(config)
        # The local models beside the server: the describer (writer role) and the writer a retrain tunes.
        keys = tuple(k for k in ("describer", "writer") if getattr(m, k) and m.server_writes_after_describer)
    errors = model_errors_for(config, keys)
    if writes.backend == "vlm":
        yield _runtime_check(writes.model_id)
    for key in keys:
        model_id = getattr(m, key)
        folder = Path(model_id)
        if errors.get(key):
            yield Check(f"model {key}", False, f"{model_id} could not be loaded: {errors[key]}; analyzed photos "
                        f"wait until it loads (fix models.{key}, or the network)")
        elif folder.is_dir():
            ok = (folder / "config.json").is_file()
            yield Check(f"model {key}", ok, f"{model_id} (local folder)" if ok else
                        f"{model_id} has no config.json; point models.{key} at a saved model folder")
        elif _cached_file(model_id, "config.json"):
            yield Check(f"model {key}", True, f"{model_id} (in the local model cache)")
        else:
            yield Check(f"model {key}", True, f"{model_id} is not downloaded yet; it is fetched from the Hugging Face "
                        "hub on first use, so the first drafts need network", warning=True)


def _runtime_check(model_id: str) -> Check:
    missing = [name for name in VLM_EXTRA if importlib.util.find_spec(name) is None]
    model_type = _model_type(model_id)
    needs = model_type in NEEDS_VLM_EXTRA if model_type else "smolvlm" in model_id.lower()
    if not missing:
        return Check("captioner runtime", True, "torchvision and num2words are installed (the vlm extra)")
    what = " and ".join(missing)
    if needs:
        verb = "is" if len(missing) == 1 else "are"
        return Check("captioner runtime", False, f"models.captioner ({model_type or model_id}) needs {what}, which "
                     f"{verb} not installed; install the extra: pip install 'pawpost[vlm]'")
    return Check("captioner runtime", True, f"{what} not installed; fine for {model_type or model_id}, but SmolVLM "
                 "and Qwen2-VL captioners need them (pip install 'pawpost[vlm]')", warning=True)


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
