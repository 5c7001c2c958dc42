"""`pawpost doctor` lines for the vision models: last load error, and whether each model is at hand offline.

No model is loaded and torch is not imported; the hub cache is only looked at, never contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.check import Check
from bot.config import Config


def vision_checks(config: Config) -> Iterator[Check]:
    from bot.runtime.model_errors import model_errors_for

    errors = model_errors_for(config, ("detector", "embedder"))
    for key in ("detector", "embedder"):
        model_id = getattr(config.models, key)
        if errors.get(key):
            yield Check(f"model {key}", False, f"{model_id} could not be loaded: {errors[key]}; photos wait as "
                        f"'new' until it loads (fix models.{key}, or the network)")
        elif Path(model_id).is_dir():
            yield Check(f"model {key}", True, f"{model_id} (local folder)")
        elif _cached(model_id):
            yield Check(f"model {key}", True, f"{model_id} (in the local model cache)")
        else:
            yield Check(f"model {key}", True, f"{model_id} is not downloaded yet; it is fetched from the Hugging Face "
                        "hub on first use, so the first photos need network", warning=True)


def _cached(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:  # not a valid repo id, or no hub library: treat as not cached
        return False
