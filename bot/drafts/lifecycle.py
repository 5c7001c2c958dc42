"""A draft's life: the transition table (bot.store.states, where the store checks every move) and every "can this
draft be ..." rule the owner's actions meet, in one table; the CLI, the page, the poster and the caption stage ask.

`refusal(action, draft)` says why not (None: it can), `require(action, draft)` raises NotAllowed with that reason.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.errors import NotAllowed
from bot.store.states import DRAFT_TRANSITIONS, DraftStatus, PublishState

__all__ = ["DRAFT_TRANSITIONS", "MOVES", "WHEN", "Action", "DraftStatus", "PublishState", "allowed", "can",
           "refusal", "require"]


class Action(StrEnum):
    """What the owner (or the poster for them) asks of one draft."""

    APPROVE = "approve"
    EDIT = "edit"  # the caption, the alt text, the chosen candidate
    REJECT = "reject"
    REGENERATE = "regenerate"
    RESCHEDULE = "reschedule"  # move an approved draft to another time, or back to the queue
    UNAPPROVE = "unapprove"
    RESTORE = "restore"  # a rejected draft back to pending
    CORRECT_PETS = "correct_pets"
    POST = "post"  # publish now
    RECONCILE = "reconcile"  # look for an unsettled draft's post
    RESEND = "resend"  # the owner's word: an unsettled draft was not posted
    CONFIRM_POSTED = "confirm_posted"  # the owner's word: it is on the account
    MEDIA = "media"  # add, remove, reorder or split out the post's photos


S = DraftStatus

# The states each action may start from, in the order the refusal lists them.
WHEN: dict[Action, tuple[DraftStatus, ...]] = {
    Action.APPROVE: (S.PENDING, S.APPROVED, S.FAILED),
    Action.EDIT: (S.PENDING, S.APPROVED),
    Action.REJECT: (S.PENDING,),
    Action.REGENERATE: (S.PENDING,),
    Action.RESCHEDULE: (S.APPROVED,),
    Action.UNAPPROVE: (S.APPROVED,),
    Action.RESTORE: (S.REJECTED,),
    # The owner's word on who is in the photo is a fact at any time; it never moves the draft.
    Action.CORRECT_PETS: tuple(DraftStatus),
    Action.POST: (S.APPROVED,),
    Action.RECONCILE: (S.PUBLISHING,),
    Action.RESEND: (S.PUBLISHING,),
    Action.CONFIRM_POSTED: (S.PUBLISHING,),
    Action.MEDIA: (S.PENDING, S.APPROVED),
}

# The state each action leaves the draft in (None: it stays as it is); every move is one DRAFT_TRANSITIONS allows.
MOVES: dict[Action, DraftStatus | None] = {
    Action.APPROVE: S.APPROVED,
    Action.EDIT: None,
    Action.REJECT: S.REJECTED,
    Action.REGENERATE: None,
    Action.RESCHEDULE: None,
    Action.UNAPPROVE: S.PENDING,
    Action.RESTORE: S.PENDING,
    Action.CORRECT_PETS: None,
    Action.POST: S.PUBLISHING,
    Action.RECONCILE: None,  # posted, or approved again when it was never sent: the poster's outcome decides
    Action.RESEND: S.APPROVED,
    Action.CONFIRM_POSTED: S.POSTED,
    # An approval was of the post as it was: other photos (or another cover) are approved again.
    Action.MEDIA: S.PENDING,
}

_PAST = {Action.APPROVE: "approved", Action.EDIT: "edited", Action.REJECT: "rejected",
         Action.REGENERATE: "regenerated", Action.RESCHEDULE: "rescheduled (approve it first)",
         Action.UNAPPROVE: "unapproved", Action.RESTORE: "restored"}


def allowed(action: Action) -> tuple[DraftStatus, ...]:
    return WHEN[action]


def can(action: Action | str, status: str) -> bool:
    """Whether a draft in `status` may be asked `action` (the page shows only the buttons that can work)."""
    return status in WHEN[Action(action)]


def refusal(action: Action, draft: Any) -> str | None:
    """Why `draft` (a store row or a DraftView: id, status, and for some actions publish_state, media_url,
    media_code) cannot be asked `action`, in one sentence; None when it can."""
    draft_id, status = _get(draft, "id"), str(_get(draft, "status"))
    if status in WHEN[action]:
        if action == Action.CONFIRM_POSTED and _get(draft, "publish_state") == PublishState.STARTED:
            return f"draft {draft_id} was never sent; it goes back to approved by itself"
        return None
    if action == Action.POST:
        if status == S.POSTED:
            where = _get(draft, "media_url") or _get(draft, "media_code")
            return f"draft {draft_id} is already posted ({where}); a draft is posted at most once"
        if status == S.PUBLISHING:
            return (f"draft {draft_id} is unsettled: Instagram did not say whether it was posted, and it is never "
                    f"sent twice by pawpost; run 'pawpost reconcile {draft_id}' to look now, or 'pawpost drafts "
                    f"resend {draft_id}' once you checked it is not on the account")
        return (f"draft {draft_id} is {status}; only approved drafts can be posted (approve it first: 'pawpost "
                f"drafts approve {draft_id}')")
    if action == Action.UNAPPROVE and status in (S.PUBLISHING, S.POSTED):
        return (f"draft {draft_id} is {status}: it has already gone to Instagram (or may have), so its approval can "
                "no longer be undone")
    if action == Action.RECONCILE:
        return f"draft {draft_id} is {status}, not unsettled; nothing to reconcile"
    if action == Action.RESEND:
        return f"draft {draft_id} is {status}; only an unsettled draft (publishing) can be resent"
    if action == Action.MEDIA:
        return (f"draft {draft_id} is {status}; only the photos of {_listed(WHEN[action])} drafts can be "
                "changed")
    if action == Action.CONFIRM_POSTED:
        return (f"draft {draft_id} is {status}; only a draft waiting for you (publishing) can be confirmed as "
                "posted")
    return f"draft {draft_id} is {status}; only {_listed(WHEN[action])} drafts can be {_PAST[action]}"


def require(action: Action, draft: Any) -> None:
    """Raise NotAllowed (the refusal's reason, with the draft's id and state) unless `draft` can be asked `action`."""
    reason = refusal(action, draft)
    if reason is not None:
        raise NotAllowed(int(_get(draft, "id")), str(_get(draft, "status")), str(action), reason)


def _listed(states: tuple[DraftStatus, ...]) -> str:
    names = [str(s) for s in states]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _get(draft: Any, key: str) -> Any:
    # A sqlite3.Row answers draft[key] (and lacks a column an older caller did not select); a DraftView has fields.
    if isinstance(draft, dict):
        return draft.get(key)
    try:
        return draft[key]
    except (IndexError, KeyError):
        return None
    except TypeError:
        return getattr(draft, key, None)
