"""The owner's one-look summary: queue counts, next slot, last post, cooldown, unsettled drafts, last error, models.

`status --json` is a contract (README, "Command line"); add keys, never rename them. `posting_lines` is the
posting part of the text form, with every time labelled with its zone; `status_line` is the daemon's one line.
"""

from __future__ import annotations

from typing import Any

from bot import timeutil
from bot.captions.registry import Registry, retrain_off
from bot.config import Config
from bot.errors import PawpostError
from bot.home import setup_problems
from bot.ingest.photo_queue import waiting_with_error
from bot.ingest.quarantine import kept
from bot.runtime.model_errors import model_error_since, model_errors
from bot.store.database import Store
from bot.store.states import DraftStatus, PhotoStatus


def status(store: Store, config: Config) -> dict[str, Any]:
    from bot.publish.gate import cooldown_until, last_error, stopped
    from bot.publish.publishers.registry import kind_for
    from bot.publish.unsettled import unsettled_drafts

    counts = store.counts()
    now = timeutil.now()
    notice = kind_for(config).status_notice(config, store, now)  # the publisher's access: no network call
    last = store.one(
        "SELECT id, posted_at, media_code, media_url FROM drafts WHERE status = ? ORDER BY posted_at DESC LIMIT 1",
        (DraftStatus.POSTED,),
    )
    # Only those whose kept file is still there: one the owner deleted from quarantine/ is done with.
    quarantined = kept(store)
    counts["photos"][PhotoStatus.QUARANTINED] = len(quarantined)
    return {
        "photos": counts["photos"],
        "drafts": counts["drafts"],
        "next_slot": next_slot(store, config, now),
        "timezone": config.schedule.timezone,
        "last_post": dict(last) if last else None,
        "cooldown_until": cooldown_until(store, now),
        "posting_stopped": stopped(store),
        "instagram_session": notice.cannot_post,
        "unsettled": unsettled_drafts(store),
        # The last publishing error with its class (kind, outcome, step); a successful post clears it.
        "last_error": last_error(store),
        "models": models_status(store, config),
        "quarantined": [{"id": k.id, "source_name": k.source_name, "reason": k.reason, "updated_at": k.created_at}
                        for k in quarantined[:10]],
        "waiting": waiting_with_error(store, limit=10),
        "token_notice": notice.act_soon,
        "setup_problems": setup_problems(config, store),
        # Why `pawpost retrain` does nothing with this config (an inference server's model), or None.
        "retrain_off": retrain_off(config),
        "database_damage": store.damage(),  # SQLite's quick_check: None when whole
    }


def next_slot(store: Store, config: Config, now: Any) -> str | None:
    """When the next post really goes out: jitter, --at drafts and the daily cap included (as `pawpost schedule`)."""
    from bot.publish.slots import SlotBook

    for item in SlotBook(store, config).upcoming(now, 8):
        if not item.note.startswith("skipped"):
            return timeutil.iso(item.slot.fire_at)
    return None


def status_line(info: dict[str, Any]) -> str:
    """The daemon's one line for systemd (`systemctl status`): what waits, and whether posting is held back."""
    photos = ", ".join(f"{n} {s}" for s, n in info["photos"].items() if n and s in ("new", "analyzed"))
    drafts = ", ".join(f"{n} {s}" for s, n in info["drafts"].items()
                       if n and s in (DraftStatus.PENDING, DraftStatus.APPROVED, DraftStatus.PUBLISHING))
    parts = [f"photos waiting: {photos or 'none'}", f"drafts: {drafts or 'none'}"]
    if info["posting_stopped"]:
        parts.append("posting stopped")
    if info["cooldown_until"]:
        parts.append(f"cooldown until {info['cooldown_until']}")
    return "; ".join(parts)


def posting_lines(info: dict[str, Any], config: Config) -> list[str]:
    """The posting part of `pawpost status` (rich markup), every time with its zone's name."""
    from rich.markup import escape

    zone = config.schedule.zone
    label = config.schedule.timezone

    def when(moment: Any) -> str:
        return f"{timeutil.local(moment, zone)} {label}" if moment else "-"

    lines = [f"[red]database damaged:[/] {escape(info['database_damage'])}"] if info.get("database_damage") else []
    lines.append(f"next slot: {when(info['next_slot'])}")
    last = info["last_post"]
    lines.append(f"last post: {when(last['posted_at']) + ' ' + (last['media_code'] or '') if last else '-'}")
    if info["posting_stopped"]:
        lines.append(f"[red]posting stopped:[/] {escape(info['posting_stopped'])}")
    elif info.get("instagram_session"):
        lines.append(f"[red]posting cannot start:[/] {escape(info['instagram_session'])}")
    if info.get("token_notice"):
        lines.append(f"[red]instagram token:[/] {escape(info['token_notice'])}")
    if info["cooldown_until"]:
        lines.append(f"[yellow]cooldown:[/] Instagram asked us to slow down; posting resumes "
                     f"{when(info['cooldown_until'])}")
    for item in info.get("unsettled", []):
        looked = item["last_look"] or {}
        seen = (f"; last look {when(looked.get('at'))}: {looked.get('items')} posts" if looked.get("items") is not None
                else f"; last look {when(looked.get('at'))}: {looked.get('error')}" if looked else "")
        lines.append(f"[yellow]unsettled:[/] draft {item['draft_id']} tried {when(item['attempted_at'])}: "
                     f"{escape(item['reason'])}{escape(seen)}"
                     f"{'; next look ' + when(item['next_look']) if item['next_look'] else ''}; "
                     f"{escape(item['advice'])}")
    err = info["last_error"]
    if err:
        draft = f" (draft {err['draft_id']})" if err.get("draft_id") else ""
        lines.append(f"last error: {when(err['at'])}{draft} ({err['kind']}, {err['outcome']}) "
                     f"{escape(err['error_class'])}: {escape(err['message'])}")
    return lines


def models_status(store: Store, config: Config) -> dict[str, Any]:
    """The configured models and, per model, the last load error (cleared when it loads)."""
    m = config.models
    keys = ["detector", "embedder"] + (["describer", "writer"] if m.two_stage else ["captioner"])
    if m.uses_server:
        # The server writes: the local captioner is unused; a local writer is the one a retrain tunes.
        keys = [k for k in keys if k != "captioner"] + (["describer"] if m.server_writes_after_describer
                                                        and not m.two_stage else []) + ["server"]
    errors = model_errors(store, keys)
    out = {key: {"id": m.server_model if key == "server" else getattr(m, key), "error": errors[key]} for key in keys}
    if m.uses_server:
        # How long the server has been failing (unreachable, or without the model) since it last answered.
        out["server"].update(url=m.server, role=m.server_role, unreachable_since=model_error_since(store, "server"))
    # The model that writes captions runs with the promoted LoRA version from `pawpost retrain`, if any.
    registry = Registry(config)
    out[registry.caption_model.key]["version"] = _caption_model_version(registry)
    return out


def _caption_model_version(registry: Registry) -> str | None:
    try:
        version = registry.in_use()
    except PawpostError:  # an unreadable pointer: 'pawpost models list' says what is wrong
        return None
    return version.id if version else None
