"""Posting exactly once: the attempt is recorded before anything is sent, the answer the moment it returns, and a
failed step is handled by the one table (bot.publish.outcome): an unknown outcome is never re-sent automatically.

`Poster.tick(now)` posts for a due slot, `reconcile(now)` looks for unsettled drafts' posts, `post_now(id)` posts one
approved draft at once, `resend(id)` is the owner's decision on an unsettled draft. Cooldowns, fatal stops and the
last error live in the database (bot.publish.gate), so every process (daemon, `pawpost post`, `pawpost status`) sees
them; the hashtag comment is bot.publish.comments'. Build one with `bot.publish.factory.make_poster`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bot.publish.unsettled as unsettled
from bot import timeutil
from bot.captions.alttext import media_alt_texts
from bot.config import Config
from bot.drafts.lifecycle import Action, require
from bot.errors import PawpostError
from bot.publish.base import Handover, PreparedPost, PublishedMedia, Publisher
from bot.publish.comments import FirstComments, first_comment
from bot.publish.errors import BadContent, ErrorKind, PublishError, classify, step_error
from bot.publish.gate import after_error, forget_error, lift_cooldown, posting_blocked, remember_error
from bot.publish.outcome import Evidence, Move, Step
from bot.publish.reconcile import Reconciling
from bot.publish.result import PostResult
from bot.publish.schedule import Slot, Upcoming
from bot.publish.slots import SlotBook
from bot.store.database import Store
from bot.store.states import AttemptOutcome, DraftStatus, PublishState

log = logging.getLogger(__name__)

# Waits after transient failures (minutes), by attempt; the last one repeats. Transient never fails a draft.
BACKOFF_MINUTES = (2, 5, 15, 30, 60)


class Poster(Reconciling, FirstComments):
    """Posts approved drafts for due slots, exactly once. One per thread (it holds a Store)."""

    def __init__(self, store: Store, config: Config, publisher: Publisher) -> None:
        self.store = store
        self.config = config
        self.publisher = publisher
        self.slots = SlotBook(store, config)
        self._lock: Any = None
        # When Instagram was last asked about a draft's comment: a flaky network must not turn the daemon's frequent
        # ticks into a request storm. Pacing only, not correctness.
        self._asked: dict[tuple[str, int], datetime] = {}

    def close(self) -> None:
        self.publisher.close()

    # -- the entry points ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> PostResult | None:
        """Look for unsettled drafts' posts when a look is due, add missing first comments, then post at most one
        draft if a slot is due. Unsettled drafts do not hold the queue up. Returns what happened to a draft."""
        now = now or timeutil.now()
        with self._posting_lock(wait=False) as held:
            if not held:
                return None  # another pawpost process is posting right now
            self._maintain(now)
            if self._blocked(now):
                return None
            looks = self.reconcile(now)
            settled = [lk for lk in looks if lk.decision in (DraftStatus.POSTED, DraftStatus.APPROVED)]
            last = PostResult(settled[-1].draft_id, settled[-1].decision, settled[-1].media_code,
                              settled[-1].media_url, message=settled[-1].message) if settled else None
            if self._blocked(now):
                return last  # the look found that Instagram wants a pause
            self.finish_comments(now)
            decision = self.slots.decide(now)
            if decision.slot is None:
                if decision.passed:
                    self.slots.pass_over(decision.passed, decision.reason)
                return last
            draft_id = self.slots.pick(decision.slot, now)
            if draft_id is None:
                # The slot stays open (a draft approved within catch_up_minutes still goes out); older ones close.
                if decision.passed:
                    self.slots.pass_over(decision.passed, "a later slot is due")
                return last
            if decision.passed:
                self.slots.pass_over(decision.passed, "a later slot is due")
            return self._publish(draft_id, now, slot=decision.slot)

    def post_now(self, draft_id: int, now: datetime | None = None) -> PostResult:
        """Publish one approved draft now, outside the schedule (it still counts toward the daily cap)."""
        now = now or timeutil.now()
        require(Action.POST, self.store.draft(draft_id))
        with self._posting_lock(wait=True) as held:
            if not held:
                raise PawpostError("another pawpost process is posting right now; try again in a minute")
            blocked = self._blocked(now)
            if blocked:
                raise PawpostError(f"posting is paused: {blocked}")
            self.reconcile(now)
            blocked = self._blocked(now)  # the look may have met a cooldown
            if blocked:
                raise PawpostError(f"posting is paused: {blocked}")
            return self._publish(draft_id, now)

    def next_fire_time(self, now: datetime) -> datetime | None:
        return self.slots.next_fire_time(now)

    def upcoming(self, now: datetime, count: int = 5) -> list[Upcoming]:
        """The next slots and the drafts that will fill them (for `pawpost schedule`)."""
        return self.slots.upcoming(now, count)

    # -- the exactly-once protocol -------------------------------------------------------------------

    def _publish(self, draft_id: int, now: datetime, slot: Slot | None = None) -> PostResult:
        nonce = secrets.token_hex(16)
        # Step 1, committed before a byte is sent: the draft is `publishing`, the attempt (nonce) exists and the slot
        # is used, so a crash after the post cannot give the slot a second one. The caption is read in the same
        # transaction: an edit cannot slip in between what is sent and what reconcile looks for.
        with self.store.tx():
            draft = self.store.draft(draft_id)
            caption = draft["caption"] or ""
            alt_texts = media_alt_texts(self.store, draft_id)
            caption, comment = first_comment(self.config, self.publisher, caption)
            self.store.set_draft_status(draft_id, DraftStatus.PUBLISHING, expect=DraftStatus.APPROVED,
                                        attempts=draft["attempts"] + 1, first_comment=comment)
            attempt_id = self.store.insert("attempts", draft_id=draft_id, nonce=nonce, started_at=timeutil.iso(now))
            unsettled.clear(self.store, draft_id)  # the draft is PublishState.STARTED: nothing was sent yet
            last_fired = self.slots.last_fired()
            if slot is not None:
                self.slots.fired(slot)
        staging = self.config.paths.data / "prepared"
        began = time.monotonic()

        def before_create() -> None:
            # Step 2, committed right before the post-making request: from here on the post may exist.
            unsettled.mark_sent(self.store, draft_id, now)
            self.store.checkpoint()  # in the database file itself: a lost -wal must not forget the attempt

        def on_container(container_id: str, position: int | None = None) -> None:
            # Committed before the post-making request, so the attempt names its containers whatever happens next:
            # the published one on the attempt, a carousel's children in attempt_media by position.
            if position is None:
                self.store.update("attempts", attempt_id, container_id=container_id)
                return
            with self.store.tx() as db:
                db.execute("INSERT OR REPLACE INTO attempt_media (attempt_id, position, container_id) VALUES (?, ?, ?)",
                           (attempt_id, position, container_id))

        try:
            try:
                post = self._prepare(draft_id, caption, nonce, alt_texts, staging)
                self._check_caption(caption)
            except Exception as exc:  # nothing was sent: our own refusal (BadContent) or a retry
                if not isinstance(exc, PawpostError):
                    log.exception("preparing draft %s failed", draft_id)
                err = classify(exc)
            else:
                try:
                    media = self.publisher.publish(post, before_create=before_create, on_container=on_container)
                    err = None
                except PublishError as exc:
                    err = exc
                except Exception as exc:  # not classified by the publisher (a bug): the post may exist if sent
                    log.exception("publishing draft %s failed", draft_id)
                    sent = unsettled.state(self.store, draft_id) != PublishState.STARTED
                    err = step_error(Step.CREATE if sent else Step.UPLOAD, Evidence(sent=True), exc)
        finally:
            from bot.publish.prepare import staged_files

            for file in staged_files(staging, draft_id, nonce):
                file.unlink(missing_ok=True)
        if err is not None:
            # When the error came, not when the tick began: a slow upload must not shorten the wait to look.
            failed_at = now + timedelta(seconds=time.monotonic() - began)
            result = self._failed(draft_id, attempt_id, err, now, failed_at)
            if slot is not None and result.status != DraftStatus.PUBLISHING:
                # Nothing went out: the slot is free again for the retry (or the next draft).
                self.slots.restore_fired(last_fired)
            return result
        if isinstance(media, Handover):
            return self._with_owner(draft_id, attempt_id, media, now)
        # Step 3, the moment publish returns: the media id/code are stored with the `posted` status.
        result = self._mark_posted(draft_id, attempt_id, media, now, AttemptOutcome.POSTED)
        if comment:
            self._comment(draft_id, media.media_id, comment, now, recovering=False)
        return result

    def _prepare(self, draft_id: int, caption: str, nonce: str, alt_texts: list[str], staging: Path) -> PreparedPost:
        """The draft's post as the publisher takes it: its media in order, prepared and staged under `staging` for
        this attempt, each with its alt text (read with the caption)."""
        from bot.publish.prepare import stage_post

        return stage_post(self.store, draft_id, caption, nonce, alt_texts, staging, reels=self.config.reels)

    def _check_caption(self, caption: str) -> None:
        from bot.limits import caption_problem

        # Instagram's own limits (bot.limits), not captions.max_hashtags: an owner's approved caption is theirs.
        problem = caption_problem(caption)
        if problem:
            raise BadContent(problem)

    def _mark_posted(self, draft_id: int, attempt_id: int, media: PublishedMedia, at: datetime,
                     outcome: str, also: Callable[[], None] | None = None) -> PostResult:
        with self.store.tx():
            if also is not None:
                also()
            unsettled.clear(self.store, draft_id)
            # No media id when the owner confirmed a post made by hand (notify): the link's code is all there is.
            self.store.update("attempts", attempt_id, outcome=outcome, finished_at=timeutil.iso(timeutil.now()),
                              media_id=media.media_id or None, media_code=media.code or None)
            self.store.set_draft_status(draft_id, DraftStatus.POSTED, expect=DraftStatus.PUBLISHING,
                                        posted_at=timeutil.iso(at), media_id=media.media_id or None,
                                        media_code=media.code or None, media_url=media.url or None, error=None,
                                        retry_after=None)
            forget_error(self.store)
        self.store.checkpoint()  # a posted draft must stay posted even if the -wal file alone is lost
        self.store.event("post.posted", f"draft {draft_id} posted: {media.url or media.code or 'confirmed by you'}",
                         draft_id=draft_id)
        return PostResult(draft_id, DraftStatus.POSTED, media.code, media.url,
                          message=f"posted ({media.url or media.code})" if outcome == AttemptOutcome.POSTED
                          else f"found on the account after an unconfirmed attempt: {media.url or media.code}")

    def _with_owner(self, draft_id: int, attempt_id: int, handover: Handover, now: datetime) -> PostResult:
        """Handed to the owner (notify): unsettled, waiting for 'pawpost drafts posted'; never sent again by itself."""
        with self.store.tx():
            unsettled.mark_with_owner(self.store, draft_id, handover.reason, now)
            self.store.update("attempts", attempt_id, finished_at=timeutil.iso(now))
            self.store.update("drafts", draft_id, error=None, retry_after=None)
        self.store.event("post.with_owner", f"draft {draft_id} {handover.reason}", draft_id=draft_id)
        return PostResult(draft_id, DraftStatus.PUBLISHING, message=handover.reason,
                          publish_state=PublishState.WITH_OWNER)

    def _failed(self, draft_id: int, attempt_id: int, err: PublishError, now: datetime,
                failed_at: datetime | None = None) -> PostResult:
        finished = timeutil.iso(now)
        after_error(self.store, self.config, err, now)
        remember_error(self.store, err, now, draft_id)
        outcome = str(err.outcome)
        if err.move == Move.UNSETTLED:
            # It may be on Instagram: it is never sent again by pawpost; looks for it start LOOKS[0] from now.
            at = failed_at or now
            self.store.update("attempts", attempt_id, finished_at=timeutil.iso(at), error_class=err.error_class,
                              error=err.message)
            unsettled.mark_unknown(self.store, draft_id, err.label, err.error_class, at)
            note = (f"{err.label} (Instagram did not say whether it was posted; pawpost looks for it on the account "
                    f"and never sends it again by itself: 'pawpost drafts resend {draft_id}' once you checked)")
            self.store.update("drafts", draft_id, error=note)
            self.store.event("post.unsettled", f"draft {draft_id}: {note}", level="warning", draft_id=draft_id)
            return PostResult(draft_id, DraftStatus.PUBLISHING, error=err.label, kind=err.kind, message=note,
                              outcome=outcome, publish_state=PublishState.UNKNOWN)
        if err.kind == ErrorKind.BAD_CONTENT:
            with self.store.tx():
                unsettled.clear(self.store, draft_id)
                self.store.update("attempts", attempt_id, outcome=AttemptOutcome.FAILED, finished_at=finished,
                                  error_class=err.error_class, error=err.message)
                self.store.set_draft_status(draft_id, DraftStatus.FAILED, expect=DraftStatus.PUBLISHING,
                                            error=err.label, retry_after=None)
            self.store.event("post.failed", f"draft {draft_id} failed: {err.label}; fix it and run 'pawpost drafts "
                             f"approve {draft_id}' to try again", level="error", draft_id=draft_id)
            return PostResult(draft_id, DraftStatus.FAILED, error=err.label, kind=err.kind, outcome=outcome,
                              message=f"failed: {err.label}; fix it and approve it again")
        retry_after = None
        if err.move == Move.RETRY:
            attempts = self.store.value("SELECT attempts FROM drafts WHERE id = ?", (draft_id,)) or 1
            wait = BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1]
            retry_after = timeutil.iso(now + timedelta(minutes=wait))
        with self.store.tx():
            unsettled.clear(self.store, draft_id)
            self.store.update("attempts", attempt_id, outcome=AttemptOutcome.RETRY, finished_at=finished,
                              error_class=err.error_class, error=err.message)
            self.store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.PUBLISHING,
                                        error=err.label, retry_after=retry_after)
        if retry_after:
            self.store.event("post.retry", f"draft {draft_id} not posted ({err.label}); retrying after "
                             f"{timeutil.local(retry_after, self.config.schedule.zone)}", level="warning",
                             draft_id=draft_id)
        return PostResult(draft_id, DraftStatus.APPROVED, error=err.label, kind=err.kind, outcome=outcome,
                          message=f"not posted: {err}")

    # -- publisher upkeep (renewing a token) ---------------------------------------------------------------

    def _maintain(self, now: datetime) -> None:
        self.publisher.maintain(now)

    # -- the gate: cooldown, fatal stop ----------------------------------------------------------------

    def _blocked(self, now: datetime) -> str | None:
        lift_cooldown(self.store, now)
        return posting_blocked(self.store, now)

    # -- one poster at a time, across processes ------------------------------------------------------

    def _posting_lock(self, *, wait: bool) -> _Held:
        if self._lock is None:
            from filelock import FileLock

            self.config.paths.data.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.config.paths.data / "posting.lock"))
        return _Held(self._lock, 30.0 if wait else 0.0)


class _Held:
    """`with` a FileLock that may not be free: yields whether it was acquired (re-entrant in one thread)."""

    def __init__(self, lock: Any, timeout: float) -> None:
        self.lock, self.timeout, self.held = lock, timeout, False

    def __enter__(self) -> bool:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=self.timeout)
            self.held = True
        except Timeout:
            self.held = False
        return self.held

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.lock.release()
