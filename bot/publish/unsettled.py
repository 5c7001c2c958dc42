"""Unsettled drafts: a post-making request whose outcome is unknown. What is known about each, when to look again.

A draft is unsettled while it is `publishing` and its attempt is not running. Where it stands is the draft's
`publish_state` (started, sent, unknown, with_owner); the record (kv `unsettled:<id>`) keeps the facts that go with
it: when the post-making request was sent, why the outcome is unknown, the looks so far. Only finding the post
(`posted`) or the owner's `pawpost drafts resend` settles it; looks continue with backoff, for good.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import timeutil
from bot.publish.base import RecentMedia, same_caption
from bot.store import keys
from bot.store.database import Store
from bot.store.states import DraftStatus, PublishState

# When to look at the account's feed after the unknown outcome: quickly at first (most answers are just lost),
# then further apart as a lagging feed catches up; from the last one on, every LOOK_EVERY, for as long as it takes.
LOOKS = (timedelta(minutes=2), timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=1),
         timedelta(hours=2), timedelta(hours=4), timedelta(hours=8), timedelta(hours=16), timedelta(hours=24))
LOOK_EVERY = timedelta(hours=12)
# Our clock and Instagram's may differ (a host without NTP): a post found by its caption may carry a time this far
# before the attempt and still be the attempt's.
MATCH_WINDOW = timedelta(hours=24)
RECENT_MEDIA = 50


@dataclass
class Look:
    """One look at the account for one unsettled draft, as `pawpost reconcile` reports it."""

    draft_id: int
    decision: str  # posted | unsettled | approved (nothing was sent) | error (the feed could not be read)
    message: str
    looked_at: str | None = None
    items: int | None = None  # how many posts the feed answer held
    reaches_back_to: str | None = None  # the oldest of them
    next_look: str | None = None
    media_code: str | None = None
    media_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def state(store: Store, draft_id: int) -> PublishState | None:
    """Where the draft stands while publishing (None: it is not publishing)."""
    value = store.value("SELECT publish_state FROM drafts WHERE id = ?", (draft_id,))
    return PublishState(value) if value else None


def record(store: Store, draft_id: int) -> dict[str, Any] | None:
    """The facts kept with an unsettled draft (sent_at, reason, error_class, unknown_at, looks, next_look)."""
    value = store.get(keys.UNSETTLED.format(draft_id))
    return value if isinstance(value, dict) else None


def waiting(store: Store, draft_id: int) -> dict[str, Any] | None:
    """An unsettled draft the owner can confirm as posted: handed over to post by hand, or sent with no answer
    (`with_owner`, `reason`); None for any other draft."""
    at = state(store, draft_id)
    if at is None or at == PublishState.STARTED:
        return None
    return {"with_owner": at == PublishState.WITH_OWNER, "reason": (record(store, draft_id) or {}).get("reason")}


def mark_sent(store: Store, draft_id: int, now: datetime) -> None:
    """Committed right before the post-making request: from here on the post may exist."""
    with store.tx():
        store.set_publish_state(draft_id, PublishState.SENT)
        store.put(keys.UNSETTLED.format(draft_id), {"sent_at": timeutil.iso(now)})


def mark_unknown(store: Store, draft_id: int, reason: str, error_class: str, at: datetime) -> dict:
    """The post-making request's outcome is unknown: the draft is unsettled from `at`; the first look is planned."""
    rec = record(store, draft_id) or {"sent_at": timeutil.iso(at)}
    rec.update(reason=reason, error_class=error_class, unknown_at=timeutil.iso(at), looks=0,
               next_look=timeutil.iso(at + LOOKS[0]))
    with store.tx():
        store.set_publish_state(draft_id, PublishState.UNKNOWN)
        store.put(keys.UNSETTLED.format(draft_id), rec)
    return rec


def mark_with_owner(store: Store, draft_id: int, reason: str, at: datetime) -> dict:
    """Handed to the owner to post by hand (the by-hand publisher): unsettled until the owner says; never looked for."""
    rec = {"sent_at": timeutil.iso(at), "reason": reason, "error_class": "WithOwner", "unknown_at": timeutil.iso(at),
           "looks": 0, "next_look": None}
    with store.tx():
        store.set_publish_state(draft_id, PublishState.WITH_OWNER)
        store.put(keys.UNSETTLED.format(draft_id), rec)
    return rec


def clear(store: Store, draft_id: int) -> None:
    """Forget the record (the draft's publish_state goes with its status: the store clears it on leaving)."""
    store.put(keys.UNSETTLED.format(draft_id), None)


def next_look_after(rec: dict[str, Any], now: datetime) -> datetime:
    """The look after this one: LOOKS counted from when the outcome became unknown, then every LOOK_EVERY."""
    since = timeutil.parse(rec.get("unknown_at")) or now
    for delay in LOOKS:
        if since + delay > now:
            return since + delay
    return now + LOOK_EVERY


def looked(store: Store, draft_id: int, rec: dict[str, Any], now: datetime, recent: list[RecentMedia] | None,
           error: str | None = None) -> dict[str, Any]:
    rec = dict(rec)
    rec["looks"] = int(rec.get("looks") or 0) + 1
    rec["next_look"] = timeutil.iso(next_look_after(rec, now))
    rec["last_look"] = {"at": timeutil.iso(now), "items": None if recent is None else len(recent),
                        "reaches_back_to": reaches_back_to(recent), "error": error}
    store.put(keys.UNSETTLED.format(draft_id), rec)
    return rec


def reaches_back_to(recent: list[RecentMedia] | None) -> str | None:
    times = [m.taken_at for m in recent or [] if m.taken_at is not None]
    return timeutil.iso(min(times)) if times else None


def find_post(store: Store, draft_id: int, sent_caption: str, started: datetime,
              recent: list[RecentMedia]) -> RecentMedia | None:
    """The draft's post among the recent media: its caption, taken after the attempt (within the clock margin),
    of the draft's kind (a photo, a carousel or a Reel's video) when the account says, and a media id no other
    draft owns."""
    kind = post_kind(store, draft_id)
    for m in recent:
        if not same_caption(m.caption, sent_caption):
            continue
        if m.kind and m.kind != kind:
            continue
        if m.taken_at is not None and m.taken_at < started - MATCH_WINDOW:
            continue
        if store.value("SELECT 1 FROM drafts WHERE media_id = ? AND id != ?", (m.media_id, draft_id)):
            continue
        return m
    return None


def post_kind(store: Store, draft_id: int) -> str:
    """What the draft's post is on the account: video (one video, a Reel), carousel (several media) or photo."""
    kinds = [r[0] for r in store.all("SELECT p.kind FROM draft_media m JOIN photos p ON p.id = m.photo_id "
                                     "WHERE m.draft_id = ? ORDER BY m.position", (draft_id,))]
    if len(kinds) > 1:
        return "carousel"
    return "video" if kinds == ["video"] else "photo"


def unsettled_drafts(store: Store) -> list[dict[str, Any]]:
    """Every unsettled draft for `status`: why, when it was tried, the next automatic look, the owner's command."""
    out = []
    for row in store.all("SELECT d.id, d.error, d.publish_state, a.started_at FROM drafts d LEFT JOIN attempts a "
                         "ON a.id = (SELECT max(id) FROM attempts WHERE draft_id = d.id) WHERE d.status = ? "
                         "ORDER BY d.id", (DraftStatus.PUBLISHING,)):
        at = PublishState(row["publish_state"]) if row["publish_state"] else PublishState.UNKNOWN
        sent = at != PublishState.STARTED
        rec = record(store, row["id"]) or {}
        if at == PublishState.WITH_OWNER:
            out.append({"draft_id": row["id"], "reason": rec.get("reason") or "sent to you to post by hand",
                        "attempted_at": row["started_at"], "looks": 0, "last_look": None, "next_look": None,
                        "command": f"pawpost drafts posted {row['id']} --url LINK",
                        "advice": f"post it on Instagram by hand, then run 'pawpost drafts posted {row['id']} --url "
                                  f"LINK'; 'pawpost drafts resend {row['id']}' sends it to you again"})
            continue
        item = {
            "draft_id": row["id"],
            "reason": rec.get("reason") or ("pawpost stopped before Instagram answered" if sent
                                            else "pawpost stopped before the post was sent"),
            "attempted_at": row["started_at"],
            "looks": int(rec.get("looks") or 0),
            "last_look": rec.get("last_look"),
            "next_look": rec.get("next_look"),
            "command": f"pawpost drafts resend {row['id']}" if sent else None,
            "advice": (f"pawpost keeps looking for the post on the account; if it is not there, run "
                       f"'pawpost drafts resend {row['id']}'") if sent
            else "nothing to do: nothing was sent, the draft goes back to approved by itself",
        }
        out.append(item)
    return out
