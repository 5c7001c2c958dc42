"""The notify publisher's "I posted it" links: single use, expiring after CONFIRM_LINK_DAYS, bound to one draft.

A link carries a random token; the database keeps only its digest, with the draft it was made for and when it
expires. Spending one confirms the draft with the same service as `pawpost drafts posted` (the poster's
confirm_posted), in the very transaction that marks the draft posted: a link works once, and a draft confirmed
another way (the CLI, the page's button, another link) leaves every one of its links refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from bot import timeutil
from bot.drafts.lifecycle import Action, refusal
from bot.errors import LinkRefused, NoSuchDraft
from bot.publish.result import PostResult
from bot.store import keys
from bot.store.database import Store

# Long enough for a post made by hand the next day or after a weekend away; a message older than this is stale.
CONFIRM_LINK_DAYS = 7


def _key(token: str) -> str:
    return keys.CONFIRM_LINK.format(hashlib.sha256(token.encode("utf-8", "replace")).hexdigest())


def issue(store: Store, draft_id: int, now: datetime | None = None) -> str:
    """A new token for `draft_id`'s "I posted it" link (expired tokens of any draft are forgotten now)."""
    now = now or timeutil.now()
    token = secrets.token_urlsafe(24)
    with store.tx():
        _forget(store, lambda value: _expired(value, now))
        expires = timeutil.iso(now + timedelta(days=CONFIRM_LINK_DAYS))
        store.put(_key(token), {"draft_id": int(draft_id), "expires": expires})
    return token


def check(store: Store, draft_id: int, token: str, now: datetime | None = None) -> None:
    """Raise LinkRefused unless `token` would confirm `draft_id` now."""
    now = now or timeutil.now()
    value = store.get(_key(token)) if token else None
    if not isinstance(value, dict):
        raise LinkRefused("unknown", "this link is not valid: it was used already or never made; check the draft "
                          "on the review site, or run 'pawpost drafts posted ID'")
    if int(value.get("draft_id", -1)) != int(draft_id):
        raise LinkRefused("other draft", f"this link was made for another draft, not draft {draft_id}")
    if _expired(value, now):
        raise LinkRefused("expired", f"this link expired (links work for {CONFIRM_LINK_DAYS} days); confirm with "
                          f"the draft's page or 'pawpost drafts posted {draft_id}'")
    try:
        draft = store.draft(draft_id)
    except NoSuchDraft:
        raise LinkRefused("done", f"draft {draft_id} is gone: nothing to confirm") from None
    if refusal(Action.CONFIRM_POSTED, draft) is not None:
        raise LinkRefused("done", f"draft {draft_id} is not waiting for you any more (it is {draft['status']}): "
                          "nothing to confirm")


def spend(store: Store, draft_id: int, token: str, now: datetime | None = None) -> None:
    """Check `token` and forget every link of `draft_id`; call it inside the transaction that marks it posted."""
    check(store, draft_id, token, now)
    _forget(store, lambda value: int(value.get("draft_id", -1)) == int(draft_id))


def confirm_by_link(poster: Any, draft_id: int, token: str, url: str | None = None,
                    now: datetime | None = None) -> PostResult:
    """The owner's "I posted it" through a link: the draft is posted, on the owner's word, and the link is spent."""
    now = now or timeutil.now()
    check(poster.store, draft_id, token, now)  # a clear refusal before the posting lock is even asked for
    return poster.confirm_posted(draft_id, url, now, also=lambda: spend(poster.store, draft_id, token, now))


def _expired(value: Any, now: datetime) -> bool:
    try:
        return timeutil.parse(value["expires"]) <= now
    except (TypeError, KeyError, ValueError):
        return True


def _forget(store: Store, which: Any) -> None:
    for row in store.all("SELECT key FROM kv WHERE key LIKE ?", (keys.CONFIRM_LINK.format("%"),)):
        value = store.get(row["key"])
        if not isinstance(value, dict) or which(value):
            store.put(row["key"], None)
