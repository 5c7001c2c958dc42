"""Why a model could not load, remembered per model key (detector, embedder, captioner, describer, writer) until
it loads again: written by the stages, read by `pawpost status` and `pawpost doctor` (which loads it once more), and
what to do when the cause is a model hub this machine cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot import timeutil
from bot.check import Check
from bot.runtime.ml import hub_unreachable
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


# What to do when a model is neither here nor downloadable: one paragraph, said wherever such a failure is shown.
OFFLINE_ADVICE = ("the Hugging Face model hub cannot be reached from this machine and the model is not here yet. "
                  "On a machine with internet, run 'pawpost models download --to pawpost-models' (with a copy of "
                  "this config, or none for the default models), copy the pawpost-models folder to this machine "
                  "and put the [models] lines it prints into this config; or let this machine reach the hub "
                  "(network, HTTPS_PROXY, HF_HUB_OFFLINE unset) and the models are fetched on first use")


def with_advice(reason: str) -> str:
    """`reason`, followed by what to do when the hub is the cause."""
    return f"{reason}. To fix it: {OFFLINE_ADVICE}" if hub_unreachable(reason) else reason


# Loads models.`key` once more, as its stage would: None when it loads now, else why it still does not.
Recheck = Callable[[str], "str | None"]


def failed_model_check(key: str, model_id: str, reason: str, recheck: Recheck | None, waiting: str) -> Check:
    """The doctor's line for a model whose last load failed with `reason`: re-checked by loading it (`recheck`), so
    a cause that is gone (a download since, a fixed path, the network back) is not reported again."""
    if recheck is not None:
        now = recheck(key)
        if now is None:
            return Check(f"model {key}", True, f"{model_id} loads now (its last load had failed: {reason})")
        reason = now
    text = f"{model_id} could not be loaded: {reason}; {waiting} wait until it loads"
    if hub_unreachable(reason):
        return Check(f"model {key}", False, f"{text}. To fix it: {OFFLINE_ADVICE}")
    return Check(f"model {key}", False, f"{text} (fix models.{key}, or the network)")
