"""The owner's changes to a post's photos: add, remove, move, and split one out into a draft of its own.

The rules live here, over bot.drafts.media (the one writer of a draft's media) and bot.drafts.lifecycle (which
states allow it): a post keeps 1 to MAX_MEDIA photos at places 0..n-1, a photo is in one draft at most, and each
change is one transaction with its event. A change to an approved draft sends it back to pending: the approval was
of the post as it was. Services only: the CLI and the page word the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import timeutil
from bot.drafts.actions import DraftView, get_draft
from bot.drafts.lifecycle import Action, require
from bot.drafts.media import MAX_MEDIA, add_draft, draft_of_photo, media_of, set_media
from bot.errors import MediaCount, NoSuchPlace, NotInDraft, PhotoUnavailable
from bot.store.database import Store
from bot.store.states import DraftStatus, PhotoStatus
from bot.vision.photo_pets import pets_in_photos

# A photo can join a post once it has been looked at (analyzed), or when it left a post earlier (drafted, in none).
JOINABLE = (PhotoStatus.ANALYZED, PhotoStatus.DRAFTED)


@dataclass(frozen=True)
class MediaChange:
    """What one change did: the draft as it is now, and what the owner should hear about it."""

    draft: DraftView
    was: str  # the draft's state before the change
    pets_added: tuple[str, ...] = ()  # pets in the post now that were in none of its photos before
    pets_lost: tuple[str, ...] = ()  # pets whose only photo left the post
    new_draft: int | None = None  # split: the draft the photo went to

    @property
    def unapproved(self) -> bool:
        """An approved draft went back to pending (it is approved again by the owner)."""
        return self.was == DraftStatus.APPROVED and self.draft.status == DraftStatus.PENDING

    @property
    def caption_may_not_fit(self) -> bool:
        """The pets of the post changed: a caption about the set as it was may name a pet no longer shown, or miss
        one now shown (regenerating writes one for the photos as they are)."""
        return bool(self.pets_added or self.pets_lost)

    @property
    def pets_changed(self) -> str:
        """How the pets of the post changed, in words ("Bruno now in the post; Lola no longer shown")."""
        return pets_changed(self.pets_added, self.pets_lost)


@dataclass(frozen=True)
class Offered:
    """A photo the owner may add to a post: its id, file, and why it is offered."""

    photo_id: int
    path: str | None
    source_name: str
    pets: list[str] = field(default_factory=list)
    reason: str | None = None


def add_photo(store: Store, draft_id: int, photo_id: int, place: int | None = None) -> MediaChange:
    """Add an analyzed photo that is in no draft, at `place` (0-based; None: last)."""

    def order(photos: list[int]) -> list[int]:
        if photo_id in photos:
            raise PhotoUnavailable(photo_id, f"it is already in draft {draft_id}")
        why = unavailable(store, photo_id) or _mixing(store, draft_id, photo_id, photos)
        if why:
            raise PhotoUnavailable(photo_id, why)
        if len(photos) >= MAX_MEDIA:
            raise MediaCount(draft_id, len(photos) + 1, MAX_MEDIA)
        at = len(photos) if place is None else _place(draft_id, place, len(photos) + 1)
        if store.value("SELECT status FROM photos WHERE id = ?", (photo_id,)) == PhotoStatus.ANALYZED:
            # In a post now: the caption stage must not make it a draft of its own as well.
            store.set_photo_status(photo_id, PhotoStatus.DRAFTED, expect=PhotoStatus.ANALYZED)
        return [*photos[:at], photo_id, *photos[at:]]

    return _change(store, draft_id, order, f"photo {photo_id} added")


def remove_photo(store: Store, draft_id: int, photo_id: int) -> MediaChange:
    """Take a photo out of the post (never its last one). The photo stays in the library, in no draft: it can be
    added to a post again."""

    def order(photos: list[int]) -> list[int]:
        _require_in(draft_id, photo_id, photos)
        if len(photos) == 1:
            raise MediaCount(draft_id, 0, MAX_MEDIA)
        return [p for p in photos if p != photo_id]

    return _change(store, draft_id, order, f"photo {photo_id} removed")


def move_photo(store: Store, draft_id: int, photo_id: int, place: int) -> MediaChange:
    """Move a photo to `place` (0-based; 0 makes it the cover); the others keep their order around it."""

    def order(photos: list[int]) -> list[int]:
        _require_in(draft_id, photo_id, photos)
        at = _place(draft_id, place, len(photos))
        rest = [p for p in photos if p != photo_id]
        return [*rest[:at], photo_id, *rest[at:]]

    return _change(store, draft_id, order, f"photo {photo_id} moved to place {place + 1}")


def split_photo(store: Store, draft_id: int, photo_id: int) -> MediaChange:
    """Take a photo out of the post into a new pending draft of its own (with its alt text, crop and description),
    in the same transaction; the new draft has no caption yet: `new_draft` is regenerated by the caller (the
    caption stage over its photo), and until then its note says how."""
    made: list[int] = []

    def order(photos: list[int]) -> list[int]:
        _require_in(draft_id, photo_id, photos)
        if len(photos) == 1:
            raise MediaCount(draft_id, 0, MAX_MEDIA)
        medium = next(m for m in media_of(store, draft_id) if m.photo_id == photo_id)
        rest = [p for p in photos if p != photo_id]
        set_media(store, draft_id, rest)  # the photo leaves first: a photo is in one draft at most
        now = timeutil.iso(timeutil.now())
        new_id = add_draft(store, [photo_id], status=DraftStatus.PENDING, created_at=now, updated_at=now,
                           crop=_crop_json(medium.crop), alt_text=medium.alt_text, description=medium.description)
        store.update("drafts", new_id, note=f"Split out of draft {draft_id}; no caption yet. Regenerate it to write "
                     f"candidates ('pawpost drafts regenerate {new_id}').")
        store.event("draft.pending", f"draft {new_id} for photo {photo_id}: split out of draft {draft_id}",
                    photo_id=photo_id, draft_id=new_id)
        made.append(new_id)
        return rest

    change = _change(store, draft_id, order, f"photo {photo_id} split out")
    return MediaChange(change.draft, change.was, change.pets_added, change.pets_lost, new_draft=made[0])


@dataclass(frozen=True)
class MediumView:
    """One photo of a post as the owner reviews it: its place (1 is the cover), file, pets and alt text."""

    place: int
    photo_id: int
    path: str | None  # absolute; None when the file is gone
    file_name: str
    alt_text: str | None  # the owner's, or the one written from the photo
    pets: list[str] = field(default_factory=list)
    lead_reason: str | None = None  # why the shoot put it first, where the shoot says
    kind: str = "photo"  # photo | video
    duration_s: float | None = None  # a video's length
    cover_at: float | None = None  # a video's cover frame, seconds into it

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def media_views(store: Store, draft_id: int, view: DraftView | None = None) -> list[MediumView]:
    """The post's photos in order, for `drafts media ID list`, `drafts show` and the review loop."""
    view = view or get_draft(store, draft_id)
    ids = [int(m["photo_id"]) for m in view.media]
    pets = pets_in_photos(store, ids)
    return [MediumView(n, m["photo_id"], m["path"], m["file_name"], m["alt_text"],
                       [p.name for p in pets.get(m["photo_id"], [])], lead_reason(store, m["photo_id"]),
                       m.get("kind") or "photo", m.get("duration_s"), m.get("cover_at"))
            for n, m in enumerate(view.media, 1)]


def offered(store: Store, draft_id: int) -> list[Offered]:
    """The photos the shoot of this post offers to add (its other distinct shots), best first; only those that can
    join (analyzed or drafted, in no draft)."""
    from bot.ingest.shoots import shoot_alternatives

    store.draft(draft_id)  # NotFound for a wrong id
    ids = [i for i in shoot_alternatives(store, draft_id) if not unavailable(store, i)]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in store.all(f"SELECT id, path, source_name FROM photos WHERE id IN ({marks})", ids)}
    pets = pets_in_photos(store, ids)
    return [Offered(i, rows[i]["path"], rows[i]["source_name"], [p.name for p in pets.get(i, [])],
                    lead_reason(store, i)) for i in ids]


def lead_reason(store: Store, photo_id: int) -> str | None:
    """Why the shoot put this photo first ("sharpest of 7; Lola fills 40 %"), where the shoot says."""
    from bot.ingest.shoots import lead_reason as reason_of

    return reason_of(store, photo_id)


def unavailable(store: Store, photo_id: int) -> str | None:
    """Why a photo cannot join a post (None: it can)."""
    status = store.value("SELECT status FROM photos WHERE id = ?", (photo_id,))
    if status is None:
        return "there is no such photo"
    other = draft_of_photo(store, photo_id)
    if other is not None:
        return f"it is in draft {other}"
    if status not in JOINABLE:
        return f"it is {status}, not an analyzed photo"
    return None


def _mixing(store: Store, draft_id: int, photo_id: int, photos: list[int]) -> str | None:
    """Why the medium cannot join these: a video is posted alone, as a Reel, never in a carousel (None: it can)."""
    marks = ",".join("?" * (len(photos) + 1))
    kinds = {r["id"]: r["kind"] for r in store.all(f"SELECT id, kind FROM photos WHERE id IN ({marks})",
                                                    [photo_id, *photos])}
    if kinds.get(photo_id) == "video":
        return "it is a video, which is posted alone as a Reel; it cannot join a post of other media"
    if any(kinds.get(p) == "video" for p in photos):
        return f"draft {draft_id} is a Reel (one video); a photo cannot join it"
    return None


def _change(store: Store, draft_id: int, order: Callable[[list[int]], list[int]], what: str) -> MediaChange:
    with store.tx():
        row = store.draft(draft_id)
        require(Action.MEDIA, row)
        before = [m.photo_id for m in media_of(store, draft_id)]
        after = order(before)
        set_media(store, draft_id, after)
        had, has = _pets(store, before), _pets(store, after)
        fields: dict[str, Any] = {"approved_at": None} if row["status"] == DraftStatus.APPROVED else {}
        added = tuple(n for n in has if n not in had)
        lost = tuple(n for n in had if n not in has)
        if (added or lost) and row["caption"]:
            # Kept with the draft until new candidates or the owner's own words replace the caption.
            fields["note"] = _refit_note(added, lost)
        # Through the state owner: updated_at moves, and a draft that changed state meanwhile is refused.
        store.set_draft_status(draft_id, DraftStatus.PENDING, expect=row["status"], **fields)
        said = "; ".join(x for x in (f"{what}, now {len(after)} photo(s)",
                                     f"pets added: {', '.join(added)}" if added else "",
                                     f"pets no longer shown: {', '.join(lost)}" if lost else "",
                                     "back to pending" if row["status"] == DraftStatus.APPROVED else "") if x)
        store.event("draft.media", f"draft {draft_id}: {said}", draft_id=draft_id)
    return MediaChange(get_draft(store, draft_id), str(row["status"]), added, lost)


def pets_changed(added: tuple[str, ...], lost: tuple[str, ...]) -> str:
    return "; ".join(x for x in (f"{', '.join(added)} now in the post" if added else "",
                                 f"{', '.join(lost)} no longer shown" if lost else "") if x)


def _refit_note(added: tuple[str, ...], lost: tuple[str, ...]) -> str:
    return (f"The photos changed since the caption was written ({pets_changed(added, lost)}): it may no longer "
            "fit. Regenerate it for the photos as they are, or edit it.")


def _pets(store: Store, photo_ids: list[int]) -> list[str]:
    found = pets_in_photos(store, photo_ids)
    names: list[str] = []
    for photo_id in photo_ids:
        names += [p.name for p in found.get(photo_id, []) if p.name not in names]
    return names


def _require_in(draft_id: int, photo_id: int, photos: list[int]) -> None:
    if photo_id not in photos:
        raise NotInDraft(draft_id, photo_id)


def _place(draft_id: int, place: int, count: int) -> int:
    if not 0 <= place < count:
        raise NoSuchPlace(draft_id, count, place + 1)
    return place


def _crop_json(crop: tuple[float, float, float, float] | None) -> str | None:
    import json

    return json.dumps(list(crop)) if crop else None
