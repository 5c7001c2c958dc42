"""Posting exactly once: the attempt is recorded before anything is sent, the answer the moment it returns, and
anything ambiguous is reconciled against the account's recent media before anything is sent again.

`Poster.tick(now)` posts for a due slot, `reconcile(now)` settles drafts left in `publishing`, `post_now(id)` posts
one approved draft at once. Cooldowns (kv `cooldown_until`) and fatal stops (kv `posting_stopped`) live in the
database, so every process (daemon, `pawpost post`) honours them.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.alttext import draft_alt_text
from bot.config import Config
from bot.errors import PawpostError
from bot.publish.base import PublishedMedia, Publisher, RecentMedia, same_caption
from bot.publish.errors import FATAL_ADVICE, BadContent, ErrorKind, PublishError, classify
from bot.publish.slots import KV_LAST_FIRED, SlotBook
from bot.schedule import Slot, Upcoming
from bot.states import DraftStatus
from bot.store import Store

log = logging.getLogger(__name__)

# Instagram may still be finishing a post its client gave up waiting for, and its feed lags behind: look for it
# only this long after the ambiguous error, and on an account with nothing older, look twice this far apart.
RECONCILE_AFTER = timedelta(minutes=10)
# Our clock and Instagram's may differ by more than minutes (a host without NTP): a post found by its caption may
# carry a time this far before the attempt...
MATCH_WINDOW = timedelta(hours=24)
# ...and the feed only proves "not posted" when it shows a post older than the attempt by more than any clock skew.
CLOCK_MARGIN = timedelta(hours=1)
RECENT_MEDIA = 20
# Pacing of repeated questions to Instagram about one draft (reconcile, comment).
ASK_AGAIN_AFTER = timedelta(minutes=2)
# Waits after transient failures (minutes), by attempt; the last one repeats. Transient never fails a draft.
BACKOFF_MINUTES = (2, 5, 15, 30, 60)

KV_COOLDOWN = "cooldown_until"
KV_STOPPED = "posting_stopped"
# kv `reconcile_unseen:<draft id>`: when the feed of an account with no older posts first lacked the draft's post.
KV_UNSEEN = "reconcile_unseen:{}"

_TRAILING_TAGS = re.compile(r"(?:\s*(?<![\w#])#\w+)+\s*$")


@dataclass
class PostResult:
    """What one publish (or reconcile) did to one draft."""

    draft_id: int
    status: str  # posted | publishing | approved | failed
    media_code: str | None = None
    media_url: str | None = None
    error: str | None = None
    kind: str | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split_hashtags(caption: str) -> tuple[str, str | None]:
    """The caption without its trailing hashtag block, and that block (None when there is none to move)."""
    match = _TRAILING_TAGS.search(caption)
    if not match or not caption[: match.start()].strip():
        return caption, None
    return caption[: match.start()].rstrip(), " ".join(match.group(0).split())


def stop_sentence(advice: str, error_class: str) -> str:
    """The kv `posting_stopped` text: what happened and what to do, one sentence (status prefixes 'posting stopped')."""
    return f"{advice[:1].upper()}{advice[1:]} ({error_class})."


def posting_blocked(store: Store, now: datetime | None = None) -> str | None:
    """One sentence saying why nothing is posted right now (fatal stop or cooldown), or None."""
    stopped = store.get(KV_STOPPED)
    if stopped:
        return f"Posting stopped: {stopped}"
    until = timeutil.parse(store.get(KV_COOLDOWN))
    if until and until > (now or timeutil.now()):
        return (f"Instagram asked pawpost to slow down; posting pauses until {timeutil.iso(until)} and resumes by "
                "itself (nothing to do)")
    return None


class Poster:
    """Posts approved drafts for due slots, exactly once. One per thread (it holds a Store)."""

    def __init__(self, store: Store, config: Config, publisher: Publisher) -> None:
        self.store = store
        self.config = config
        self.publisher = publisher
        self.slots = SlotBook(store, config)
        self._lock: Any = None
        # When Instagram was last asked about a draft (reconcile, comment): a flaky network or an inconclusive
        # answer must not turn the daemon's frequent ticks into a request storm. Pacing only, not correctness.
        self._asked: dict[tuple[str, int], datetime] = {}

    @classmethod
    def for_config(cls, config: Config) -> Poster:
        from bot.publish.base import make_publisher

        store = Store.for_config(config)
        return cls(store, config, make_publisher(config, store))

    def close(self) -> None:
        self.publisher.close()

    # -- the three entry points ---------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> PostResult | None:
        """Settle drafts left in `publishing`, add missing first comments, then post at most one draft if a slot
        is due. Returns what happened to a draft, or None when nothing did."""
        now = now or timeutil.now()
        with self._posting_lock(wait=False) as held:
            if not held:
                return None  # another pawpost process is posting right now
            self._maintain(now)
            if self._blocked(now):
                return None
            settled = self.reconcile(now)
            last = settled[-1] if settled else None
            if self._in_flight() or self._blocked(now):
                return last  # nothing new while a post is unsettled, or while Instagram wants a pause
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

    def reconcile(self, now: datetime | None = None) -> list[PostResult]:
        """Settle every draft left in `publishing`: found among the recent media -> posted; not there -> back to
        approved. Drafts whose attempt is under RECONCILE_AFTER old wait (Instagram may still be processing)."""
        now = now or timeutil.now()
        results: list[PostResult] = []
        with self._posting_lock(wait=False) as held:
            if not held:
                return results
            rows = self.store.all("SELECT * FROM drafts WHERE status = 'publishing' ORDER BY id")
            recent: list[RecentMedia] | None = None
            for draft in rows:
                attempt = self.store.one("SELECT * FROM attempts WHERE draft_id = ? ORDER BY id DESC LIMIT 1",
                                         (draft["id"],))
                if attempt is not None and attempt["media_id"]:
                    # The answer was stored: the post exists; only the status change was lost.
                    media = PublishedMedia(attempt["media_id"], attempt["media_code"] or "", draft["media_url"] or "")
                    results.append(self._mark_posted(draft["id"], attempt["id"], media,
                                                     timeutil.parse(attempt["finished_at"]) or now, "reconciled"))
                    continue
                started = timeutil.parse(attempt["started_at"] if attempt else draft["updated_at"]) or now
                # Wait from the ambiguous error (finished_at), or from the start after a crash (no finished_at).
                ambiguous = timeutil.parse(attempt["finished_at"] if attempt else None) or started
                if now - ambiguous < RECONCILE_AFTER or self._blocked(now) or not self._may_ask("reconcile",
                                                                                                 draft["id"], now):
                    continue
                if recent is None:
                    try:
                        recent = self.publisher.recent_media(RECENT_MEDIA)
                    except Exception as exc:  # every failure is classified, none is guessed at
                        err = classify(exc)
                        self._side_effects(err, now)
                        log.warning("cannot read recent media to reconcile draft %s: %s", draft["id"], err.label)
                        self.store.update("drafts", draft["id"], error=f"{err.label} (reconcile waits to check "
                                          "Instagram before anything is sent again)")
                        break
                settled = self._settle(draft, attempt, started, recent, now)
                if settled is not None:
                    results.append(settled)
            if results:
                self.finish_comments(now)
        return results

    def post_now(self, draft_id: int, now: datetime | None = None) -> PostResult:
        """Publish one approved draft now, outside the schedule (it still counts toward the daily cap)."""
        now = now or timeutil.now()
        draft = self.store.draft(draft_id)
        status = draft["status"]
        if status == DraftStatus.POSTED:
            raise PawpostError(f"draft {draft_id} is already posted ({draft['media_url'] or draft['media_code']}); "
                               "a draft is posted at most once")
        if status == DraftStatus.PUBLISHING:
            raise PawpostError(f"draft {draft_id} is being published or waits to be checked against Instagram; "
                               "it is never sent twice, see 'pawpost status'")
        if status != DraftStatus.APPROVED:
            raise PawpostError(f"draft {draft_id} is {status}; only approved drafts can be posted "
                               f"(approve it first: 'pawpost drafts approve {draft_id}')")
        with self._posting_lock(wait=True) as held:
            if not held:
                raise PawpostError("another pawpost process is posting right now; try again in a minute")
            blocked = self._blocked(now)
            if blocked:
                raise PawpostError(f"posting is paused: {blocked}")
            self.reconcile(now)
            # The reconcile may have found a cooldown, or left a draft unsettled: one post in flight at a time.
            blocked = self._blocked(now)
            if blocked:
                raise PawpostError(f"posting is paused: {blocked}")
            if self._in_flight():
                raise PawpostError(f"draft {draft_id} was not posted: another draft may be on Instagram already and "
                                   "is checked there first; see 'pawpost status' and try again later")
            return self._publish(draft_id, now)

    # -- scheduling (facts in bot.publish.slots) -----------------------------------------------------

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
            alt_text = draft_alt_text(self.store, draft_id)
            first_comment = None
            if self.config.instagram.hashtags_in_first_comment:
                caption, first_comment = split_hashtags(caption)
            self.store.set_draft_status(draft_id, DraftStatus.PUBLISHING, expect=DraftStatus.APPROVED,
                                        attempts=draft["attempts"] + 1, first_comment=first_comment)
            attempt_id = self.store.insert("attempts", draft_id=draft_id, nonce=nonce, started_at=timeutil.iso(now))
            last_fired = self.store.get(KV_LAST_FIRED)
            if slot is not None:
                self.slots.fired(slot)
        staged = self.config.paths.data / "prepared" / f"{draft_id}-{nonce[:8]}.jpg"
        began = time.monotonic()
        try:
            photo, pets = self._prepare(draft, staged)
            self._check_caption(caption)
            media = self.publisher.publish(photo, caption, nonce, draft_id=draft_id, pets=pets, alt_text=alt_text)
        except Exception as exc:  # classified; anything unknown is transient, never a blind retry
            if not isinstance(exc, PublishError | BadContent | PawpostError):
                log.exception("publishing draft %s failed", draft_id)
            # When the error came, not when the tick began: a slow upload must not shorten the wait to reconcile.
            failed_at = now + timedelta(seconds=time.monotonic() - began)
            result = self._failed(draft_id, attempt_id, classify(exc), now, failed_at)
            if slot is not None and result.status != DraftStatus.PUBLISHING:
                # Nothing went out: the slot is free again for the retry (or the next draft).
                self.store.put(KV_LAST_FIRED, last_fired)
            return result
        finally:
            staged.unlink(missing_ok=True)
        # Step 2, the moment publish returns: the media id/code are stored with the `posted` status.
        result = self._mark_posted(draft_id, attempt_id, media, now, "posted")
        if first_comment:
            self._comment(draft_id, media.media_id, first_comment, now, recovering=False)
        return result

    def _prepare(self, draft: Any, staged: Path) -> tuple[Path, list[str]]:
        from bot.publish.prepare import pet_boxes, prepare_photo

        photo = self.store.photo(draft["photo_id"])
        source = self.store.abspath(photo["path"])
        if source is None or not source.is_file():
            raise BadContent(f"the photo file {photo['path']} is missing from the library")
        prepare_photo(source, staged, pet_boxes(self.store, photo["id"]))
        pets = [r[0] for r in self.store.all(
            "SELECT pets.name FROM photo_pets JOIN pets ON pets.id = photo_pets.pet_id WHERE photo_pets.photo_id = ? "
            "ORDER BY photo_pets.confidence DESC, pets.name", (photo["id"],))]
        return staged, pets

    def _check_caption(self, caption: str) -> None:
        from bot.captions.rules import instagram_limits

        # Instagram's own limit (30), not captions.max_hashtags: an owner's approved caption is theirs.
        problem = instagram_limits(caption, 30)
        if problem:
            raise BadContent(problem)

    def _mark_posted(self, draft_id: int, attempt_id: int, media: PublishedMedia, at: datetime,
                     outcome: str) -> PostResult:
        with self.store.tx():
            self.store.put(KV_UNSEEN.format(draft_id), None)
            self.store.update("attempts", attempt_id, outcome=outcome, finished_at=timeutil.iso(timeutil.now()),
                              media_id=media.media_id, media_code=media.code)
            self.store.set_draft_status(draft_id, DraftStatus.POSTED, expect=DraftStatus.PUBLISHING,
                                        posted_at=timeutil.iso(at), media_id=media.media_id, media_code=media.code,
                                        media_url=media.url, error=None, retry_after=None)
        self.store.event("post.posted", f"draft {draft_id} posted: {media.url or media.code}", draft_id=draft_id)
        return PostResult(draft_id, DraftStatus.POSTED, media.code, media.url,
                          message=f"posted ({media.url or media.code})" if outcome == "posted"
                          else f"found on the account after an unconfirmed attempt: {media.url or media.code}")

    def _failed(self, draft_id: int, attempt_id: int, err: PublishError, now: datetime,
                failed_at: datetime | None = None) -> PostResult:
        finished = timeutil.iso(now)
        self._side_effects(err, now)
        if err.maybe_posted:
            # It may be on Instagram: nothing is sent again until a reconcile has looked, RECONCILE_AFTER from now.
            self.store.update("attempts", attempt_id, finished_at=timeutil.iso(failed_at or now),
                              error_class=err.error_class, error=err.message)
            note = f"{err.label} (Instagram did not confirm; pawpost checks the account before anything is sent again)"
            self.store.update("drafts", draft_id, error=note)
            self.store.event("post.unconfirmed", f"draft {draft_id}: {note}", level="warning", draft_id=draft_id)
            return PostResult(draft_id, DraftStatus.PUBLISHING, error=err.label, kind=err.kind, message=note)
        if err.kind == ErrorKind.BAD_CONTENT:
            with self.store.tx():
                self.store.update("attempts", attempt_id, outcome="failed", finished_at=finished,
                                  error_class=err.error_class, error=err.message)
                self.store.set_draft_status(draft_id, DraftStatus.FAILED, expect=DraftStatus.PUBLISHING,
                                            error=err.label, retry_after=None)
            self.store.event("post.failed", f"draft {draft_id} failed and will not be retried: {err.label}",
                             level="error", draft_id=draft_id)
            return PostResult(draft_id, DraftStatus.FAILED, error=err.label, kind=err.kind,
                              message=f"failed, not retried: {err.label}")
        retry_after = None
        if err.kind == ErrorKind.TRANSIENT:
            attempts = self.store.value("SELECT attempts FROM drafts WHERE id = ?", (draft_id,)) or 1
            wait = BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1]
            retry_after = timeutil.iso(now + timedelta(minutes=wait))
        with self.store.tx():
            self.store.update("attempts", attempt_id, outcome="retry", finished_at=finished,
                              error_class=err.error_class, error=err.message)
            self.store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.PUBLISHING,
                                        error=err.label, retry_after=retry_after)
        if err.kind == ErrorKind.TRANSIENT:
            self.store.event("post.retry", f"draft {draft_id} not posted ({err.label}); retrying after "
                             f"{timeutil.local(retry_after, self.config.schedule.zone)}", level="warning",
                             draft_id=draft_id)
        message = f"not posted: {err}"
        return PostResult(draft_id, DraftStatus.APPROVED, error=err.label, kind=err.kind, message=message)

    def _settle(self, draft: Any, attempt: Any, started: datetime, recent: list[RecentMedia],
                now: datetime) -> PostResult | None:
        draft_id = draft["id"]
        sent = split_hashtags(draft["caption"] or "")[0] if draft["first_comment"] else (draft["caption"] or "")
        # Clocks may be far apart, so the time only rules out old posts; a post another draft owns is never ours.
        match = next((m for m in recent if same_caption(m.caption, sent)
                      and (m.taken_at is None or m.taken_at >= started - MATCH_WINDOW)
                      and not self.store.value("SELECT 1 FROM drafts WHERE media_id = ? AND id != ?",
                                               (m.media_id, draft_id))), None)
        if match is not None:
            if attempt is None:
                attempt_id = self.store.insert("attempts", draft_id=draft_id, nonce=secrets.token_hex(16),
                                               started_at=timeutil.iso(started))
            else:
                attempt_id = attempt["id"]
            media = PublishedMedia(match.media_id, match.code, match.url)
            return self._mark_posted(draft_id, attempt_id, media, match.taken_at or now, "reconciled")
        # An empty or short feed proves nothing (Instagram's feed lags): "not posted" needs a post older than the
        # attempt in the answer, or, on an account with nothing older, a second look RECONCILE_AFTER later.
        reaches_back = any(m.taken_at and m.taken_at < started - CLOCK_MARGIN for m in recent)
        if not reaches_back:
            unseen = timeutil.parse(self.store.get(KV_UNSEEN.format(draft_id)))
            if len(recent) >= RECENT_MEDIA:
                note = "cannot tell yet whether it was posted (the account posted a lot since); checking again later"
            elif unseen is None or now - unseen < RECONCILE_AFTER:
                if unseen is None:
                    self.store.put(KV_UNSEEN.format(draft_id), timeutil.iso(now))
                note = "not on the account yet; Instagram may still be showing it, so pawpost looks again later"
            else:
                note = None
            if note is not None:
                self.store.update("drafts", draft_id, error=note)
                return None
        # What went wrong with the attempt (the draft's error now says "looking again").
        previous = f"{attempt['error_class']}: {attempt['error']}" if attempt is not None and attempt["error"] \
            else "the attempt was interrupted"
        with self.store.tx():
            self.store.put(KV_UNSEEN.format(draft_id), None)
            if attempt is not None:
                self.store.update("attempts", attempt["id"], outcome="not_found", finished_at=timeutil.iso(now))
            self.store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=DraftStatus.PUBLISHING,
                                        error=f"not posted, checked on Instagram: {previous}", retry_after=None)
        self.store.event("post.not_found", f"draft {draft_id} was not on the account after an unconfirmed attempt; "
                         "it is approved again and goes out at a later slot", level="warning", draft_id=draft_id)
        return PostResult(draft_id, DraftStatus.APPROVED, message="not on the account: approved again")

    # -- first comments (hashtags) -------------------------------------------------------------------

    def finish_comments(self, now: datetime | None = None) -> int:
        """Add the hashtag comment to posted drafts that lack it (a crash between post and comment)."""
        now = now or timeutil.now()
        done = 0
        rows = self.store.all("SELECT id, media_id, first_comment FROM drafts WHERE status = 'posted' "
                              "AND first_comment IS NOT NULL AND comment_id IS NULL AND media_id IS NOT NULL")
        for row in rows:
            if not self._may_ask("comment", row[0], now):
                continue
            if self._blocked(now) or not self._comment(row[0], row[1], row[2], now, recovering=True):
                break
            done += 1
        return done

    def _comment(self, draft_id: int, media_id: str, text: str, now: datetime, *, recovering: bool) -> bool:
        try:
            # After a crash the comment may be there already: look before adding it.
            comment_id = self.publisher.find_comment(media_id, text) if recovering else None
            comment_id = comment_id or self.publisher.comment(media_id, text)
        except Exception as exc:
            err = classify(exc)
            self._side_effects(err, now)
            if err.kind == ErrorKind.BAD_CONTENT:
                # '' marks "given up": Instagram refused this comment, asking again would not change that.
                self.store.update("drafts", draft_id, comment_id="", error=f"hashtag comment refused: {err.label}")
                self.store.event("post.comment_failed", f"draft {draft_id}: hashtag comment refused: {err.label}",
                                 level="error", draft_id=draft_id)
            else:
                log.warning("hashtag comment for draft %s not added yet: %s", draft_id, err.label)
            return False
        self.store.update("drafts", draft_id, comment_id=comment_id)
        return True

    # -- publisher upkeep (the official API's token) ------------------------------------------------------

    def _maintain(self, now: datetime) -> None:
        maintain = getattr(self.publisher, "maintain", None)
        if maintain is not None:
            maintain(now)

    # -- cooldown, fatal stop -------------------------------------------------------------------------

    def _blocked(self, now: datetime) -> str | None:
        until = timeutil.parse(self.store.get(KV_COOLDOWN))
        if until is not None and until <= now:
            self.store.put(KV_COOLDOWN, None)
            self.store.event("post.cooldown_over", "Instagram cooldown is over; posting resumes")
        return posting_blocked(self.store, now)

    def _may_ask(self, what: str, draft_id: int, now: datetime) -> bool:
        last = self._asked.get((what, draft_id))
        if last is not None and timedelta(0) <= now - last < ASK_AGAIN_AFTER:
            return False
        self._asked[(what, draft_id)] = now
        return True

    def _in_flight(self) -> bool:
        return bool(self.store.value("SELECT 1 FROM drafts WHERE status = 'publishing' LIMIT 1"))

    def _side_effects(self, err: PublishError, now: datetime) -> None:
        if err.kind == ErrorKind.COOLDOWN:
            until = now + timedelta(hours=self.config.instagram.cooldown_hours)
            current = timeutil.parse(self.store.get(KV_COOLDOWN))
            if current is None or until > current:
                self.store.put(KV_COOLDOWN, timeutil.iso(until))
            self.store.event("post.cooldown", f"Instagram asked to slow down ({err.label}); posting pauses until "
                             f"{timeutil.local(until, self.config.schedule.zone)}", level="warning")
        elif err.kind in (ErrorKind.FATAL, ErrorKind.REAUTH) and not self.store.get(KV_STOPPED):
            advice = err.advice if err.kind == ErrorKind.FATAL else FATAL_ADVICE["logged_out"]
            sentence = stop_sentence(advice, err.error_class)
            self.store.put(KV_STOPPED, sentence)
            self.store.event("post.stopped", f"posting stopped: {sentence} {err.message}", level="error")

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
