"""Why a model could not load, remembered per model key (detector, embedder, captioner, describer, writer) until
it loads again: written by the stages, read by `pawpost status` and `pawpost doctor`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot import timeutil
from bot.store.database import Store
from bot.store.keys import MODEL_ERROR, MODEL_ERROR_SINCE


def record_model_error(store: Store, key: str, reason: str) -> None:
    """Remember why models.`key` did not load (shown by status and doctor until it loads)."""
    store.put(MODEL_ERROR.format(key), reason)
    if store.get(MODEL_ERROR_SINCE.format(key)) is None:
        store.put(MODEL_ERROR_SINCE.format(key), timeutil.iso(timeutil.now()))


def clear_model_error(store: Store, key: str) -> None:
    """models.`key` loaded: forget its last error (no write when there is none)."""
    if store.get(MODEL_ERROR.format(key)) is not None:
        store.put(MODEL_ERROR.format(key), None)
    if store.get(MODEL_ERROR_SINCE.format(key)) is not None:
        store.put(MODEL_ERROR_SINCE.format(key), None)


def model_errors(store: Store, keys: Iterable[str]) -> dict[str, Any]:
    """The last load error of each model key (None: it loaded, or was never tried)."""
    return {key: store.get(MODEL_ERROR.format(key)) for key in keys}


def model_error_since(store: Store, key: str) -> str | None:
    """When models.`key` first failed since it last worked (UTC ISO), or None."""
    return store.get(MODEL_ERROR_SINCE.format(key))


def model_errors_for(config: Any, keys: Iterable[str]) -> dict[str, Any]:
    """`model_errors` read from the config's database, for the doctor: {} when the database cannot be read
    (the doctor's database check reports that problem)."""
    try:
        with Store.for_config(config) as store:
            return model_errors(store, keys)
    except Exception:
        return {}
