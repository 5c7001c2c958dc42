"""Typed errors shared by every service.

`PawpostError` and its children are the owner's to fix: the CLI prints their message as one line and exits 1.
"""

from __future__ import annotations

from datetime import datetime


class PawpostError(Exception):
    """An error the owner can act on; its message is one clear sentence saying what to do."""


class ConfigError(PawpostError):
    """The config file or an environment override is wrong."""


class NotFound(PawpostError):
    """A draft, photo, pet or model version that does not exist."""


class NoSuchDraft(NotFound):
    """No draft has this id (`draft_id` as given: it may be beyond what the database can hold)."""

    def __init__(self, draft_id: int | str) -> None:
        self.draft_id = draft_id
        super().__init__(f"there is no draft {draft_id} (see 'pawpost drafts list')")


class IllegalTransition(PawpostError):
    """A state change the state machine does not allow (e.g. approving a posted draft)."""


class GpuBusy(PawpostError):
    """Another job holds the models (this process's pipeline, or a retrain or daemon in another process) for longer
    than the caller waits; nothing was done, and the same request succeeds once that job is finished."""


class ModelUnavailable(PawpostError):
    """A configured model could not be loaded; work that needs it waits and is retried later."""

    def __init__(self, key: str, model_id: str, reason: str) -> None:
        self.key, self.model_id, self.reason = key, model_id, reason
        super().__init__(f"models.{key} = {model_id!r} cannot be loaded: {reason}")


class ServerUnavailable(ModelUnavailable):
    """The inference server that writes captions did not answer usefully (down, too slow, an error, the model not
    there); the photos wait and are tried again. `url` is models.server, `model` models.server_model."""

    def __init__(self, url: str, model: str, reason: str) -> None:
        super().__init__("server", model, reason)
        self.url = url
        self.retry_seconds: float | None = None  # how soon to try again (models.server_retry_seconds)
        Exception.__init__(self, f"the caption server {url} (model {model!r}) did not answer: {reason}")


class NotAllowed(IllegalTransition):
    """What was asked cannot be done to a draft in its state (approve a posted draft, resend a pending one): the
    refusal of bot.drafts.lifecycle, with the draft, its state and the action asked for."""

    def __init__(self, draft_id: int, status: str, action: str, message: str) -> None:
        self.draft_id, self.status, self.action = draft_id, status, action
        super().__init__(message)


class TimeHasPassed(PawpostError):
    """A time asked for a post is not in the future; `shown` is it in the schedule's zone."""

    def __init__(self, at: datetime, shown: str) -> None:
        self.at, self.shown = at, shown
        super().__init__(f"{shown} is in the past; pick a later time")


class TimeTooFar(PawpostError):
    """A time asked for a post lies beyond timeutil.HORIZON; `shown` is it, `latest` the last time allowed (both in
    the schedule's zone), `days` the horizon."""

    def __init__(self, shown: str, latest: str, days: int) -> None:
        self.shown, self.latest, self.days = shown, latest, days
        super().__init__(f"{shown} is more than {days} days ahead; pick a time until {latest}")


class TimeTaken(PawpostError):
    """A time asked for a post cannot be had: another draft has it, or its day is at the daily cap (`reason`)."""

    def __init__(self, draft_id: int, at: datetime, reason: str) -> None:
        self.draft_id, self.at, self.reason = draft_id, at, reason
        super().__init__(f"{reason}; pick another time, or the next free slot")


class BadTime(PawpostError):
    """A time the owner typed that is not one: not like 2026-12-24 19:00 (`zone` None), or a wall time that the
    clocks skip in `zone` (a daylight-saving change)."""

    def __init__(self, text: str, zone: str | None = None) -> None:
        self.text, self.zone = text, zone
        super().__init__(f"{text!r} does not exist in {zone}: the clocks change that night; pick another time" if zone
                         else f"{text!r} is not a date and time like 2026-12-24 19:00 (YYYY-MM-DD HH:MM, 24-hour)")


class NoCaption(PawpostError):
    """A draft cannot be approved as it is: it has no caption yet."""

    def __init__(self, draft_id: int) -> None:
        self.draft_id = draft_id
        super().__init__(f"draft {draft_id} has no caption yet: write one, or regenerate it")


class NoSuchCandidate(PawpostError):
    """Candidate `asked` (1-based) of a draft that has `count` of them."""

    def __init__(self, draft_id: int, count: int, asked: int) -> None:
        self.draft_id, self.count, self.asked = draft_id, count, asked
        super().__init__(f"draft {draft_id} has {count} candidate(s); pick 1 to {count}" if count else
                         f"draft {draft_id} has no candidates; write a caption or regenerate")


class EmptyStart(PawpostError):
    """The first words asked for every new candidate are blank."""

    def __init__(self) -> None:
        super().__init__("the first words to begin with are empty; give the words the caption should begin with")


class NotInDraft(NotFound):
    """A photo the owner named is not one of the draft's photos."""

    def __init__(self, draft_id: int, photo_id: int) -> None:
        self.draft_id, self.photo_id = draft_id, photo_id
        super().__init__(f"photo {photo_id} is not in draft {draft_id}; its photos are listed by 'pawpost drafts "
                         f"media {draft_id} list'")


class PhotoUnavailable(PawpostError):
    """A photo cannot join a post: it is in another draft, or not an analyzed photo (`why` says which)."""

    def __init__(self, photo_id: int, why: str) -> None:
        self.photo_id, self.why = photo_id, why
        super().__init__(f"photo {photo_id} cannot be added: {why}")


class MediaCount(PawpostError):
    """A change that would leave a post with no photo, or with more than it may hold (`limit`)."""

    def __init__(self, draft_id: int, count: int, limit: int) -> None:
        self.draft_id, self.count, self.limit = draft_id, count, limit
        super().__init__(f"draft {draft_id} has only one photo; reject the draft instead" if count < 1 else
                         f"draft {draft_id} already holds {limit} photos, the most a post may have; remove one first")


class NoSuchPlace(PawpostError):
    """A place in a post (`asked`, 1-based) that a post of `count` photos does not have."""

    def __init__(self, draft_id: int, count: int, asked: int) -> None:
        self.draft_id, self.count, self.asked = draft_id, count, asked
        super().__init__(f"draft {draft_id} has {count} photo(s); pick a place from 1 to {count}, not {asked}")


class ChangedMeanwhile(PawpostError):
    """A draft changed (its caption, alt text, time or state) after the owner opened it to change it: saving now
    would silently undo the other change, so nothing is saved. `status` and `caption` are the draft's now."""

    def __init__(self, draft_id: int, status: str, caption: str | None) -> None:
        self.draft_id, self.status, self.caption = draft_id, status, caption
        super().__init__(f"draft {draft_id} changed since you opened it (it is {status} now, caption: "
                         f"{(caption or '-')[:80]!r}); nothing was saved")


class BadVideo(PawpostError):
    """A video file that cannot be used: empty, cut short, not a video, no picture in it, or a codec that cannot be
    read. `reason` is one line, kept as the quarantine reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotAReel(PawpostError):
    """A video's cover was asked of a draft that is not a Reel (its media are photos)."""

    def __init__(self, draft_id: int) -> None:
        self.draft_id = draft_id
        super().__init__(f"draft {draft_id} is not a Reel: only a video has a cover frame to choose")


class CoverOutside(PawpostError):
    """A cover time outside the clip: it must lie from 0 up to (not including) the clip's length."""

    def __init__(self, draft_id: int, seconds: float, duration: float) -> None:
        self.draft_id, self.seconds, self.duration = draft_id, seconds, duration
        super().__init__(f"draft {draft_id}'s video is {duration:.2f} s long; pick a cover time from 0 to under "
                         f"{duration:.2f} seconds, not {seconds:g}")


class LinkRefused(PawpostError):
    """An "I posted it" link that cannot confirm its draft: `why` is 'unknown' (never made, or used already),
    'expired', 'other draft' (made for another draft) or 'done' (the draft is no longer waiting for you)."""

    def __init__(self, why: str, message: str) -> None:
        self.why = why
        super().__init__(message)


class CannotMakeReel(PawpostError):
    """A clip that cannot be made into a Reel as the `[reels]` settings ask (too long with too_long = "refuse", no
    picture that decodes, too small). `reason` is one line, kept on the draft."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotInGrid(NotFound):
    """A draft the grid preview does not show among the queued posts (not approved, or beyond the planned slots),
    so it has no place there to move to or from."""

    def __init__(self, draft_id: int) -> None:
        self.draft_id = draft_id
        super().__init__(f"draft {draft_id} is not among the queued posts of the grid; approve it first, or move it "
                         "on the schedule")


class GridChanged(PawpostError):
    """The schedule changed after the grid was shown (a post went out, a draft was approved or moved): the place
    picked no longer holds what the owner saw, so nothing is moved."""

    def __init__(self, draft_id: int) -> None:
        self.draft_id = draft_id
        super().__init__(f"the grid changed since it was shown (draft {draft_id} is no longer at that place); "
                         "nothing was moved, look at the grid again and pick anew")


class JobRunning(PawpostError):
    """A regenerate is already running for this draft: one at a time, the second would only overwrite the first."""

    def __init__(self, draft_id: int) -> None:
        self.draft_id = draft_id
        super().__init__(f"draft {draft_id} is already being regenerated; wait for it to finish")
