"""The owner's one-look summary: queue counts, next slot, last post, cooldown, last error, models.

`status --json` is a contract (../shared/ARCHITECTURE.md); add keys, never rename them.
"""

from __future__ import annotations

from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import PawpostError
from bot.schedule import upcoming_slots
from bot.store import Store
from bot.workspace import setup_problems


def status(store: Store, config: Config) -> dict[str, Any]:
    counts = store.counts()
    now = timeutil.now()
    slots = upcoming_slots(config.schedule, now, 1)
    last = store.one(
        "SELECT id, posted_at, media_code, media_url FROM drafts WHERE status = 'posted' "
        "ORDER BY posted_at DESC LIMIT 1"
    )
    error = store.one("SELECT at, kind, message, photo_id, draft_id FROM events WHERE level = 'error' "
                      "ORDER BY id DESC LIMIT 1")
    cooldown = store.get("cooldown_until")
    if cooldown and timeutil.parse(cooldown) <= now:
        cooldown = None
    quarantined = store.all(
        "SELECT id, source_name, reason, updated_at FROM photos WHERE status = 'quarantined' ORDER BY id DESC LIMIT 10"
    )
    waiting = store.all(
        "SELECT id, source_name, status, error, attempts, retry_after FROM photos "
        "WHERE error IS NOT NULL AND status IN ('new', 'analyzed') ORDER BY id LIMIT 10"
    )
    return {
        "photos": counts["photos"],
        "drafts": counts["drafts"],
        "next_slot": timeutil.iso(slots[0]) if slots else None,
        "last_post": dict(last) if last else None,
        "cooldown_until": cooldown,
        "posting_stopped": store.get("posting_stopped"),
        "last_error": dict(error) if error else None,
        "models": models_status(store, config),
        "quarantined": [dict(r) for r in quarantined],
        "waiting": [dict(r) for r in waiting],
        "setup_problems": setup_problems(config, store),
    }


def models_status(store: Store, config: Config) -> dict[str, Any]:
    """The configured models and, per model, the last load error (cleared when it loads)."""
    m = config.models
    keys = ["detector", "embedder"] + (["describer", "writer"] if m.two_stage else ["captioner"])
    out = {
        key: {"id": getattr(m, key), "error": store.get(f"model_error:{key}")}
        for key in keys
    }
    # The model that writes captions runs with the promoted LoRA version from `pawpost retrain`, if any.
    out[keys[-1]]["version"] = _caption_model_version(config)
    return out


def _caption_model_version(config: Config) -> str | None:
    from training.registry import Registry

    registry = Registry(config)
    base = config.models.writer if config.models.two_stage else config.models.captioner
    try:
        version = registry.current_id()
        return version if version and registry.current_adapter(base) is not None else None
    except PawpostError:  # an unreadable pointer: 'pawpost models list' says what is wrong
        return None
