"""Settling unsettled drafts: look for their posts on the account (with backoff, never fooled by a lagging feed),
and the owner's decisions, `pawpost drafts resend` and `pawpost drafts posted`. A mixin of `Poster`: it shares the
poster's lock, store and publisher.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import bot.publish.unsettled as unsettled
from bot import timeutil
from bot.drafts.lifecycle import Action, require
from bot.errors import PawpostError
from bot.publish.base import PublishedMedia, RecentMedia
from bot.publish.comments import split_hashtags
from bot.publish.errors import classify
from bot.publish.gate import after_error, remember_error
from bot.publish.result import PostResult
from bot.publish.unsettled import Look
from bot.store.states import AttemptOutcome, DraftStatus, PublishState

if TYPE_CHECKING:
    from bot.config import Config
    from bot.publish.base import Publisher
    from bot.store.database import Store


class Reconciling:
    """`reconcile` and `resend`, for `Poster` (which provides the lock, `_mark_posted`, `_blocked` and the rest)."""

    store: Store
    config: Config
    publisher: Publisher
    _posting_lock: Any
    _blocked: Any
    _mark_posted: Any
    finish_comments: Any
    post_now: Any

    def reconcile(self, now: datetime | None = None, draft_id: int | None = None, *, force: bool = False) -> list[Look]:
        """Settle drafts left in `publishing`. A crash before the post-making request: back to approved. Otherwise
        look for the post (when a look is due, or now with `force`): found -> posted; not found -> still unsettled,
        next look planned. Never back to approved on a feed's word: only `resend` does that."""
        now = now or timeutil.now()
        looks: list[Look] = []
        with self._posting_lock(wait=force) as held:
            if not held:
                if force:
                    raise PawpostError("another pawpost process is posting right now; try again in a minute")
                return looks
            sql = "SELECT * FROM drafts WHERE status = ?" + (" AND id = ?" if draft_id else "")
            rows = self.store.all(sql + " ORDER BY id", (DraftStatus.PUBLISHING, *((draft_id,) if draft_id else ())))
            if draft_id is not None and not rows:
                require(Action.RECONCILE, self.store.draft(draft_id))
            feed = _Feed(self, now)
            for draft in rows:
                look = self._look(draft, now, force, feed)
                if look is not None:
                    looks.append(look)
            if any(lk.decision == DraftStatus.POSTED for lk in looks):
                self.finish_comments(now)
        return looks

    def resend(self, draft_id: int, now: datetime | None = None, *,
               send_now: bool = False) -> tuple[Look, PostResult | None]:
        """The owner's decision on an unsettled draft: one last look; if the post is not there, back to approved
        (and published at once with `send_now`). Returns the look, and the publish's result with `send_now`."""
        now = now or timeutil.now()
        require(Action.RESEND, self.store.draft(draft_id))
        with self._posting_lock(wait=True) as held:
            if not held:
                raise PawpostError("another pawpost process is posting right now; try again in a minute")
            [look] = self.reconcile(now, draft_id, force=True)
            if look.decision == "unsettled" or look.decision == "error":
                self._owner_resend(draft_id, look, now)
                look.decision = DraftStatus.APPROVED
            if not send_now or look.decision != DraftStatus.APPROVED:
                return look, None
            return look, self.post_now(draft_id, now)

    def confirm_posted(self, draft_id: int, url: str | None = None, now: datetime | None = None, *,
                       also: Callable[[], None] | None = None) -> PostResult:
        """The owner's word that an unsettled draft is on the account (posted by hand with the notify publisher, or
        found by the owner): posted, with the media code from the post's link when given. `also` runs in the
        transaction that marks it posted (an "I posted it" link is spent there); if it raises, nothing changes."""
        now = now or timeutil.now()
        code = media_code_of(url) if url else ""
        with self._posting_lock(wait=True) as held:
            if not held:
                raise PawpostError("another pawpost process is posting right now; try again in a minute")
            require(Action.CONFIRM_POSTED, self.store.draft(draft_id))
            if code:
                owner = self.store.value("SELECT id FROM drafts WHERE media_code = ? AND id != ?", (code, draft_id))
                if owner:
                    raise PawpostError(f"that post ({code}) is already draft {owner}'s; check the link")
            attempt = self.store.one("SELECT id FROM attempts WHERE draft_id = ? ORDER BY id DESC LIMIT 1",
                                     (draft_id,))
            attempt_id = attempt["id"] if attempt else self.store.insert(
                "attempts", draft_id=draft_id, nonce=secrets.token_hex(16), started_at=timeutil.iso(now))
            self._mark_posted(draft_id, attempt_id, PublishedMedia("", code, url or ""), now, AttemptOutcome.POSTED,
                              also=also)
        return PostResult(draft_id, DraftStatus.POSTED, code or None, url or None,
                          message="posted (on your word" + (f": {url})" if url else ")"))

    # -- scheduling (facts in bot.publish.slots) -----------------------------------------------------

    def _look(self, draft: Any, now: datetime, force: bool, feed: _Feed) -> Look | None:
        """One unsettled draft: a crash before sending goes back to approved; otherwise look when due."""
        draft_id = draft["id"]
        attempt = self.store.one("SELECT * FROM attempts WHERE draft_id = ? ORDER BY id DESC LIMIT 1", (draft_id,))
        if attempt is None:  # cannot happen (the attempt is written with the status), but never guess "not sent"
            attempt_id = self.store.insert("attempts", draft_id=draft_id, nonce=secrets.token_hex(16),
                                           started_at=draft["updated_at"])
            attempt = self.store.one("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        if attempt["media_id"]:
            # The answer was stored: the post exists; only the status change was lost.
            media = PublishedMedia(attempt["media_id"], attempt["media_code"] or "", draft["media_url"] or "")
            result = self._mark_posted(draft_id, attempt["id"], media,
                                       timeutil.parse(attempt["finished_at"]) or now, AttemptOutcome.RECONCILED)
            return Look(draft_id, DraftStatus.POSTED, result.message, media_code=media.code, media_url=media.url)
        rec = unsettled.record(self.store, draft_id)
        state = PublishState(draft["publish_state"]) if draft["publish_state"] else None
        if state == PublishState.STARTED:
            return self._never_sent(draft_id, attempt, now)
        if state == PublishState.WITH_OWNER:
            # Handed to the owner (notify): only the owner can say; there is no feed to look at.
            if not force:
                return None
            reason = (rec or {}).get("reason")
            return Look(draft_id, "unsettled", f"{reason}; waiting for you", looked_at=timeutil.iso(now))
        if rec is None:
            # Left `publishing` by a pawpost from before these records: whether it was sent is not known.
            since = timeutil.parse(attempt["finished_at"] or attempt["started_at"])
            rec = unsettled.mark_unknown(self.store, draft_id, "left publishing by an earlier pawpost version; "
                                         "whether it was sent is not known", "Unknown", since or now)
        elif state in (PublishState.SENT, None):
            # Killed between the post-making request and its answer: unknown from the moment it was sent.
            sent_at = timeutil.parse(rec.get("sent_at")) or now
            rec = unsettled.mark_unknown(self.store, draft_id, "pawpost stopped (a crash or a kill) while "
                                         "waiting for Instagram's answer", "Interrupted", sent_at)
            self.store.update("drafts", draft_id, error=f"Interrupted: {rec['reason']} (pawpost looks for it on the "
                              f"account; 'pawpost drafts resend {draft_id}' once you checked it is not there)")
        due = timeutil.parse(rec.get("next_look"))
        if not force and (due is None or due > now or self._blocked(now)):
            return None
        recent = feed.read()
        if recent is None:
            rec = unsettled.looked(self.store, draft_id, rec, now, None, feed.error)
            return Look(draft_id, "error", f"the account's feed could not be read ({feed.error}); still unsettled",
                        looked_at=timeutil.iso(now), next_look=rec["next_look"])
        sent_caption = split_hashtags(draft["caption"] or "")[0] if draft["first_comment"] else (draft["caption"] or "")
        started = timeutil.parse(attempt["started_at"]) or now
        match = unsettled.find_post(self.store, draft_id, sent_caption, started, recent)
        back = unsettled.reaches_back_to(recent)
        if match is not None:
            media = PublishedMedia(match.media_id, match.code, match.url)
            result = self._mark_posted(draft_id, attempt["id"], media, match.taken_at or now,
                                       AttemptOutcome.RECONCILED)
            return Look(draft_id, DraftStatus.POSTED, result.message, looked_at=timeutil.iso(now), items=len(recent),
                        reaches_back_to=back, media_code=match.code, media_url=match.url)
        rec = unsettled.looked(self.store, draft_id, rec, now, recent)
        zone = self.config.schedule.zone
        message = (f"not on the account yet ({len(recent)} posts looked at"
                   + (f", back to {timeutil.local(back, zone)}" if back else "")
                   + "); still unsettled: a lagging feed proves nothing, pawpost looks again at "
                   + f"{timeutil.local(rec['next_look'], zone)}; if you checked it is not there, run "
                   + f"'pawpost drafts resend {draft_id}'")
        return Look(draft_id, "unsettled", message, looked_at=timeutil.iso(now), items=len(recent),
                    reaches_back_to=back, next_look=rec["next_look"])

    def _never_sent(self, draft_id: int, attempt: Any, now: datetime) -> Look:
        """Interrupted before the post-making request: nothing can be on the account; approved again at once."""
        with self.store.tx():
            unsettled.clear(self.store, draft_id)
            if attempt is not None:
                self.store.update("attempts", attempt["id"], outcome=AttemptOutcome.RETRY,
                                  finished_at=timeutil.iso(now), error_class="Interrupted",
                                  error="stopped before the post was sent")
            self.store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.PUBLISHING,
                                        error="Interrupted: pawpost stopped before the post was sent; it goes out "
                                              "at a later slot", retry_after=None)
        self.store.event("post.interrupted", f"draft {draft_id}: pawpost stopped before the post was sent; approved "
                         "again", level="warning", draft_id=draft_id)
        return Look(draft_id, DraftStatus.APPROVED, "pawpost stopped before the post was sent: approved again",
                    looked_at=timeutil.iso(now))

    def _owner_resend(self, draft_id: int, look: Look, now: datetime) -> None:
        attempt = self.store.one("SELECT * FROM attempts WHERE draft_id = ? ORDER BY id DESC LIMIT 1", (draft_id,))
        zone = self.config.schedule.zone
        checked = (f"the account's feed at {timeutil.local(look.looked_at, zone)} ({look.items} posts"
                   + (f", back to {timeutil.local(look.reaches_back_to, zone)}" if look.reaches_back_to else "")
                   + ")") if look.items is not None else f"nothing: {look.message}"
        with self.store.tx():
            unsettled.clear(self.store, draft_id)
            if attempt is not None:
                self.store.update("attempts", attempt["id"], outcome=AttemptOutcome.NOT_FOUND,
                                  finished_at=timeutil.iso(now))
            self.store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.PUBLISHING,
                                        error=None, retry_after=None)
        self.store.event("post.resend", f"draft {draft_id}: the owner decided it was not posted (pawpost checked "
                         f"{checked}); approved again", level="warning", draft_id=draft_id)
        look.message = f"not on the account (pawpost checked {checked}); approved again on your word"


class _Feed:
    """The account's recent media, read at most once per reconcile, or why it could not be read."""

    def __init__(self, poster: Reconciling, now: datetime) -> None:
        self.poster, self.now = poster, now
        self.items: list[RecentMedia] | None = None
        self.error: str | None = None
        self._read = False

    def read(self) -> list[RecentMedia] | None:
        if not self._read:
            self._read = True
            try:
                self.items = self.poster.publisher.recent_media(unsettled.RECENT_MEDIA)
            except Exception as exc:  # classified; a feed that cannot be read proves nothing either way
                err = classify(exc)
                after_error(self.poster.store, self.poster.config, err, self.now)
                remember_error(self.poster.store, err, self.now, None)
                self.error = err.label
        return self.items


_POST_LINK = re.compile(r"^https?://(?:www\.)?instagram\.com/(?:[A-Za-z0-9_.]+/)?(?:p|reel|tv)/([A-Za-z0-9_-]+)/?(?:[?#].*)?$")


def media_code_of(url: str) -> str:
    """The media code (shortcode) in an Instagram post link, e.g. https://www.instagram.com/p/C9NZWmgo97h/."""
    match = _POST_LINK.match(url.strip())
    if not match:
        raise PawpostError(f"{url!r} is not a link to an Instagram post (https://www.instagram.com/p/CODE/)")
    return match.group(1)
