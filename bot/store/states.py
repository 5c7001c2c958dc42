"""The photo and draft state machines, the publishing sub-states and the attempts' outcomes, as named constants.

Every state change in the store goes through `check_photo` / `check_draft`, so an illegal move is refused; what the
owner may do to a draft in each state is bot.drafts.lifecycle's, built on this table.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import IllegalTransition


class PhotoStatus(StrEnum):
    NEW = "new"
    ANALYZED = "analyzed"
    DRAFTED = "drafted"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"


class DraftStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    POSTED = "posted"
    REJECTED = "rejected"
    FAILED = "failed"


class PublishState(StrEnum):
    """Where a `publishing` draft stands (`drafts.publish_state`; NULL in every other state)."""

    STARTED = "started"  # the attempt is recorded; the post-making request was not sent (yet)
    SENT = "sent"  # the post-making request left: from here on the post may exist
    UNKNOWN = "unknown"  # no answer to it: unsettled, looked for on the account until found or resent
    WITH_OWNER = "with_owner"  # handed to the owner to post by hand: unsettled until the owner says


class ShootState(StrEnum):
    """Whether a shoot (a burst of frames, `shoots.state`) may still grow or is ready to be drafted."""

    OPEN = "open"  # a frame arrived less than ingest.shoot_settle_seconds ago: more may be copying in
    CLOSED = "closed"  # settled: its leader is drafted; a late frame still joins it, as an alternative


class AttemptOutcome(StrEnum):
    """How one publish attempt (`attempts.outcome`) ended."""

    PENDING = "pending"  # running, or unsettled
    POSTED = "posted"
    RECONCILED = "reconciled"  # found on the account after an unknown outcome
    FAILED = "failed"  # Instagram refused the content
    RETRY = "retry"  # not sent, or refused for now: the draft is approved again
    NOT_FOUND = "not_found"  # the owner decided it was not posted


PHOTO_TRANSITIONS: dict[PhotoStatus, frozenset[PhotoStatus]] = {
    # analyzed -> analyzed: re-analysis after an owner's correction.
    PhotoStatus.NEW: frozenset({PhotoStatus.ANALYZED}),
    PhotoStatus.ANALYZED: frozenset({PhotoStatus.DRAFTED, PhotoStatus.ANALYZED}),
    PhotoStatus.DRAFTED: frozenset(),
    PhotoStatus.QUARANTINED: frozenset(),
    PhotoStatus.DUPLICATE: frozenset(),
}

DRAFT_TRANSITIONS: dict[DraftStatus, frozenset[DraftStatus]] = {
    # pending -> pending and approved -> approved: new candidates, an edit, or a new time.
    DraftStatus.PENDING: frozenset({DraftStatus.APPROVED, DraftStatus.REJECTED, DraftStatus.PENDING}),
    # approved -> pending: the owner's undo of an approval.
    DraftStatus.APPROVED: frozenset({DraftStatus.PUBLISHING, DraftStatus.APPROVED, DraftStatus.PENDING}),
    # publishing -> approved only after a reconcile found nothing was published.
    DraftStatus.PUBLISHING: frozenset({DraftStatus.POSTED, DraftStatus.FAILED, DraftStatus.APPROVED}),
    DraftStatus.POSTED: frozenset(),
    # rejected -> pending: the owner's undo of a rejection.
    DraftStatus.REJECTED: frozenset({DraftStatus.PENDING}),
    # failed -> approved: the owner fixed what Instagram refused and approves it again.
    DraftStatus.FAILED: frozenset({DraftStatus.APPROVED}),
}


def check_photo(current: str, target: str) -> None:
    if PhotoStatus(target) not in PHOTO_TRANSITIONS[PhotoStatus(current)]:
        raise IllegalTransition(f"a photo that is {current} cannot become {target}")


def check_draft(current: str, target: str) -> None:
    if DraftStatus(target) not in DRAFT_TRANSITIONS[DraftStatus(current)]:
        raise IllegalTransition(f"a draft that is {current} cannot become {target}")
