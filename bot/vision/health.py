"""`pawpost doctor` lines for the vision models: last load error, whether each model is at hand offline, the
match threshold in use, and whether the animal check can run. No model is loaded and torch is not imported; the
hub cache is only looked at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    yield animal_check(config)


def animal_check(config: Config) -> Check:
    """Whether photos matched whole are checked for an animal: from the embedder's config.json (no model runs)."""
    if not config.models.animal_check:
        return Check("animal check", True, "off (models.animal_check = false): a photo matched whole is compared "
                     "with your pets whatever it shows")
    import json

    from bot.vision.embedder import imagenet_classifier

    found = _config_file(config.models.embedder)
    if found is None:
        return Check("animal check", True, "not known until the embedder is downloaded")
    try:
        has_head = imagenet_classifier(json.loads(Path(found).read_text()))
    except (OSError, ValueError, AttributeError):
        return Check("animal check", True, "not known: the embedder's config.json cannot be read", warning=True)
    if has_head:
        return Check("animal check", True, "on: the embedder's ImageNet-1k classifier sets aside a photo matched "
                     "whole that shows no animal (a toy, a bag)")
    return Check("animal check", True, "not available: the embedder has no ImageNet-1k classifier, so a photo "
                 "matched whole is compared with your pets whatever it shows")


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
    return _config_file(model_id) is not None


def _config_file(model_id: str) -> str | None:
    """A model's config.json: in its local folder, else in the hub cache; None when not at hand."""
    local = Path(model_id) / "config.json"
    if Path(model_id).is_absolute():
        return str(local) if local.is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # not a valid repo id, or no hub library: treat as not cached
        return None
    return found if isinstance(found, str) else None
