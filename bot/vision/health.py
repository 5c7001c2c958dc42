"""`pawpost doctor` lines for the vision models: last load error, whether each model is at hand offline, and the
match threshold in use. No model is loaded and torch is not imported; the hub cache is only looked at.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.check import Check
from bot.config import Config
from bot.errors import PawpostError
from bot.runtime.model_errors import Recheck, failed_model_check
from bot.runtime.model_files import local_model_check
from bot.vision.detector import NO_DETECTOR


def vision_checks(config: Config, recheck: Recheck | None = None) -> Iterator[Check]:
    """`recheck(key)` loads a model whose last load failed, as the stage would: None when it loads now, else why not
    (without it, the remembered failure is reported)."""
    from bot.runtime.model_errors import model_errors_for

    errors = model_errors_for(config, ("detector", "embedder"))
    for key in ("detector", "embedder"):
        model_id = getattr(config.models, key)
        if key == "detector" and model_id.strip().lower() == NO_DETECTOR:
            yield Check("model detector", True, 'none: each whole photo is taken as one animal (no boxes; two pets '
                        "in one photo are seen as one)")
        elif errors.get(key):
            yield failed_model_check(key, model_id, errors[key], recheck, "photos")
        elif (local := local_model_check(key, model_id)) is not None:
            yield local
        elif _cached(model_id):
            yield Check(f"model {key}", True, f"{model_id} (in the local model cache)")
        else:
            yield Check(f"model {key}", True, f"{model_id} is not downloaded yet; it is fetched from the Hugging Face "
                        "hub on first use, so the first photos need network", warning=True)
    yield from threshold_check(config)


def threshold_check(config: Config) -> Iterator[Check]:
    """The match threshold and how it was found, from the references' cached embeddings (no model runs)."""
    from bot.store.database import Store
    from bot.vision.embedder import embedder_identity
    from bot.vision.pets import load_references

    try:
        with Store.for_config(config) as store:
            refs = load_references(store, config, embedder_identity(config.models.embedder,
                                                                   config.models.embed_views))
    except (PawpostError, OSError) as exc:  # the database line says what is wrong with it
        yield Check("match threshold", True, f"not known: the database cannot be read ({exc})", warning=True)
        return
    c = refs.calibration
    yield Check("match threshold", True, f"{c.threshold:.3f}, {c.how}", warning=c.source == "uncalibrated")


def _cached(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:  # not a valid repo id, or no hub library: treat as not cached
        return False
