"""The photo and draft state machines (binding: ../shared/ARCHITECTURE.md).

Every state change in the store goes through `check_photo` / `check_draft`, so an illegal move is refused.
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
    DraftStatus.APPROVED: frozenset({DraftStatus.PUBLISHING, DraftStatus.APPROVED}),
    # publishing -> approved only after a reconcile found nothing was published.
    DraftStatus.PUBLISHING: frozenset({DraftStatus.POSTED, DraftStatus.FAILED, DraftStatus.APPROVED}),
    DraftStatus.POSTED: frozenset(),
    DraftStatus.REJECTED: frozenset(),
    # failed -> approved: the owner fixed what Instagram refused and approves it again.
    DraftStatus.FAILED: frozenset({DraftStatus.APPROVED}),
}


def check_photo(current: str, target: str) -> None:
    if PhotoStatus(target) not in PHOTO_TRANSITIONS[PhotoStatus(current)]:
        raise IllegalTransition(f"a photo that is {current} cannot become {target}")


def check_draft(current: str, target: str) -> None:
    if DraftStatus(target) not in DRAFT_TRANSITIONS[DraftStatus(current)]:
        raise IllegalTransition(f"a draft that is {current} cannot become {target}")
