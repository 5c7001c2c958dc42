"""Whether posting may go ahead now: the owner's stop (a fatal account error) and Instagram's cooldown, both kept in
the database so every process (daemon, `pawpost post`, `status`, the review site) sees the same gate.

The poster closes the gate after an account-level error (`after_error`), a login or a new token opens it (`resume`),
a cooldown lifts itself once its time has passed (`lift_cooldown`). `posting_blocked` is the one sentence for the owner;
`remember_error` keeps the last publishing error that `status` shows next to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import timeutil
from bot.publish.errors import FATAL_ADVICE, QUOTA_ADVICE, ErrorKind, PublishError
from bot.store import keys
from bot.store.database import Store
from bot.store.states import DraftStatus


def stop_sentence(advice: str, error_class: str) -> str:
    """The kv `posting_stopped` text: what happened and what to do, one sentence (status prefixes 'posting stopped')."""
    return f"{advice[:1].upper()}{advice[1:]} ({error_class})."


def stopped(store: Store) -> str | None:
    """The owner's sentence when posting is stopped (only the owner can start it again), else None."""
    return store.get(keys.POSTING_STOPPED)


def stop(store: Store, sentence: str, message: str) -> bool:
    """Stop posting with the owner's `sentence` and log `message` as an event; the first stop's reason is kept.
    True when this call stopped it."""
    if stopped(store):
        return False
    store.put(keys.POSTING_STOPPED, sentence)
    store.event("post.stopped", message, level="error")
    return True


def resume(store: Store) -> None:
    """The owner fixed what stopped posting (a new login, a new token): posting may go ahead again."""
    store.put(keys.POSTING_STOPPED, None)


def cooldown_until(store: Store, now: datetime | None = None) -> str | None:
    """The end of Instagram's cooldown (ISO) while it lasts, else None."""
    until = store.get(keys.COOLDOWN_UNTIL)
    if until and timeutil.parse(until) > (now or timeutil.now()):
        return until
    return None


def lift_cooldown(store: Store, now: datetime) -> None:
    """Forget a cooldown whose time has passed, with an event saying posting resumes."""
    until = timeutil.parse(store.get(keys.COOLDOWN_UNTIL))
    if until is not None and until <= now:
        store.put(keys.COOLDOWN_UNTIL, None)
        store.event("post.cooldown_over", "Instagram cooldown is over; posting resumes")


def posting_blocked(store: Store, now: datetime | None = None) -> str | None:
    """One sentence saying why nothing is posted right now (fatal stop or cooldown), or None."""
    halted = stopped(store)
    if halted:
        return f"Posting stopped: {halted}"
    until = timeutil.parse(store.get(keys.COOLDOWN_UNTIL))
    if until and until > (now or timeutil.now()):
        return (f"Instagram asked pawpost to slow down; posting pauses until {timeutil.iso(until)} and resumes by "
                "itself (nothing to do)")
    return None


def after_error(store: Store, config: Any, err: PublishError, now: datetime) -> None:
    """What an account-level error does to the gate: a cooldown (rate limit, spent quota) or a stop (challenge,
    login, suspension). Errors about one draft leave the gate open."""
    if err.kind == ErrorKind.COOLDOWN:
        until = quota_frees_at(store, now) if err.advice == QUOTA_ADVICE else None
        until = until or now + timedelta(hours=config.instagram.cooldown_hours)
        current = timeutil.parse(store.get(keys.COOLDOWN_UNTIL))
        if current is None or until > current:
            store.put(keys.COOLDOWN_UNTIL, timeutil.iso(until))
        store.event("post.cooldown", f"Instagram asked to slow down ({err.label}); posting pauses until "
                    f"{timeutil.local(until, config.schedule.zone)}", level="warning")
    elif err.kind in (ErrorKind.FATAL, ErrorKind.REAUTH):
        advice = err.advice if err.kind == ErrorKind.FATAL else FATAL_ADVICE["logged_out"]
        sentence = stop_sentence(advice, err.error_class)
        stop(store, sentence, f"posting stopped: {sentence} {err.message}")


def quota_frees_at(store: Store, now: datetime) -> datetime | None:
    """When a rolling 24-hour publishing quota frees a place: a day after the oldest post (made or maybe made)
    of the last 24 hours; None when none is known (another app posted: the fixed cooldown applies)."""
    since = timeutil.iso(now - timedelta(hours=24))
    oldest = store.value(
        "SELECT min(t) FROM (SELECT posted_at AS t FROM drafts WHERE status = ? AND posted_at >= ? "
        "UNION ALL SELECT a.started_at FROM attempts a JOIN drafts d ON d.id = a.draft_id "
        "WHERE d.status = ? AND a.started_at >= ?)", (DraftStatus.POSTED, since, DraftStatus.PUBLISHING, since))
    at = timeutil.parse(oldest)
    return at + timedelta(hours=24, minutes=1) if at is not None else None


def remember_error(store: Store, err: PublishError, now: datetime, draft_id: int | None) -> None:
    """kv `last_publish_error`, `status`'s last_error: the error with its class; a successful post clears it."""
    store.put(keys.LAST_PUBLISH_ERROR, {
        "at": timeutil.iso(now), "draft_id": draft_id, "kind": str(err.kind), "outcome": str(err.outcome),
        "step": str(err.step) if err.step else None, "error_class": err.error_class, "message": err.message,
        "advice": err.advice})


def forget_error(store: Store) -> None:
    """Posting works again: an old error is no news."""
    store.put(keys.LAST_PUBLISH_ERROR, None)


def last_error(store: Store) -> dict[str, Any] | None:
    """The last publishing error (`remember_error`), or None since the last successful post."""
    return store.get(keys.LAST_PUBLISH_ERROR)
