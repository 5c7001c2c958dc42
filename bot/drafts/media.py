"""A draft's media: the photos of one post (1-10, in order), each with its own crop, alt text and description.

The one reader and writer of a draft's media: code that needs "the draft's photo" asks `media_of`/`first_photo` (or
their batch forms), SQL that needs it inside a larger query uses `first_photo_sql`/`MEDIA_JSON_SQL`, and a change of
the media goes through `add_draft`/`set_media`/`update_medium`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import NoSuchDraft, NotFound, PawpostError
from bot.limits import MAX_CAROUSEL_ITEMS
from bot.store.database import Store

# Instagram's carousel limit (bot.limits); the schema's position check (0-9) says the same.
MAX_MEDIA = MAX_CAROUSEL_ITEMS

# The fields a medium carries besides its place: what each may be set to through `update_medium`.
MEDIUM_FIELDS = ("crop", "alt_text", "description")


@dataclass(frozen=True)
class Medium:
    """One medium of a draft, in its place (position 0 is the first, the one shown as the draft's photo)."""

    draft_id: int
    position: int
    photo_id: int
    path: str | None  # relative to the data folder (library/...); None when the file is gone
    source_name: str  # the file's name when it arrived
    kind: str = "photo"  # photo | video
    crop: tuple[float, float, float, float] | None = None  # the owner's frame; None: framed around the pets
    alt_text: str | None = None  # the owner's; None: written from the description and the pets when shown or posted
    description: str | None = None  # the describer's words about this photo
    duration_s: float | None = None  # a video's length
    cover_at: float | None = None  # a video's cover frame, seconds into the clip (bot.drafts.cover)


_SELECT = ("SELECT m.draft_id, m.position, m.photo_id, p.path, p.source_name, p.kind, p.duration_s, p.cover_at, "
           "m.crop, m.alt_text, m.description FROM draft_media m JOIN photos p ON p.id = m.photo_id")


def media_of(store: Store, draft_id: int) -> list[Medium]:
    """The draft's media in order (NotFound when the draft has none, which a draft never lacks)."""
    media = media_of_drafts(store, [draft_id]).get(draft_id)
    if not media:
        raise NoSuchDraft(draft_id)
    return media


def media_of_drafts(store: Store, draft_ids: Sequence[int]) -> dict[int, list[Medium]]:
    """Each draft's media in order, in one query for a whole queue; a draft without media is absent."""
    if not draft_ids:
        return {}
    marks = ",".join("?" * len(draft_ids))
    out: dict[int, list[Medium]] = {}
    for r in store.all(f"{_SELECT} WHERE m.draft_id IN ({marks}) ORDER BY m.draft_id, m.position", list(draft_ids)):
        out.setdefault(r["draft_id"], []).append(_medium(r))
    return out


def first_photo(store: Store, draft_id: int) -> int:
    """The photo id of the draft's first medium (the one shown and named as the draft's photo)."""
    return media_of(store, draft_id)[0].photo_id


def first_photos(store: Store, draft_ids: Sequence[int]) -> dict[int, int]:
    """The first medium's photo id of each draft, in one query."""
    return {draft_id: media[0].photo_id for draft_id, media in media_of_drafts(store, draft_ids).items()}


def draft_of_photo(store: Store, photo_id: int) -> int | None:
    """The draft a photo belongs to (a photo is in at most one draft, ever), or None."""
    return store.value("SELECT draft_id FROM draft_media WHERE photo_id = ?", (photo_id,))


def photos_in_drafts_sql() -> str:
    """SQL for the ids of every photo in some draft (for `NOT IN (...)`)."""
    return "SELECT photo_id FROM draft_media"


def first_photo_sql(draft: str = "d") -> str:
    """A scalar subquery: the first medium's photo id of the draft row aliased `draft`."""
    return f"(SELECT photo_id FROM draft_media WHERE draft_id = {draft}.id ORDER BY position LIMIT 1)"


# A draft's media as JSON, for the draft JSON document (bot.drafts.actions): in order, each with its library path
# (absolute, from :data_dir), kind, original file name and the owner's alt text (null: written when posted); a
# video also with its length and cover time (seconds; null for a photo).
MEDIA_JSON_SQL = """(SELECT json_group_array(json_object(
        'photo_id', photo_id,
        'path', CASE WHEN path IS NULL THEN NULL ELSE :data_dir || '/' || path END,
        'kind', kind, 'file_name', source_name, 'alt_text', alt_text, 'duration_s', duration_s,
        'cover_at', cover_at)) FROM (
    SELECT m.photo_id, p.path, p.kind, p.source_name, m.alt_text, p.duration_s, p.cover_at FROM draft_media m
    JOIN photos p ON p.id = m.photo_id WHERE m.draft_id = d.id ORDER BY m.position))"""


def add_draft(store: Store, photo_ids: Sequence[int], **fields: Any) -> int:
    """Create a draft of `photo_ids` in that order (1 to MAX_MEDIA photos, none in another draft) with `fields`
    (status, caption, ...; created_at/updated_at included); returns its id. One transaction: a draft never
    exists without its media."""
    if not 1 <= len(photo_ids) <= MAX_MEDIA:
        raise PawpostError(f"a post holds 1 to {MAX_MEDIA} photos, not {len(photo_ids)}")
    media = {key: fields.pop(key) for key in MEDIUM_FIELDS if key in fields}  # the first medium's
    with store.tx():
        for photo_id in photo_ids:
            other = draft_of_photo(store, photo_id)
            if other is not None:
                raise PawpostError(f"photo {photo_id} is already in draft {other}")
        draft_id = store.insert("drafts", **fields)
        for position, photo_id in enumerate(photo_ids):
            store.insert("draft_media", draft_id=draft_id, position=position, photo_id=photo_id,
                         **(media if position == 0 else {}))
    return draft_id


def set_media(store: Store, draft_id: int, photo_ids: Sequence[int]) -> None:
    """Make `photo_ids` the draft's media, in that order, positions 0..n-1: a kept photo keeps its own fields
    (crop, alt text, description), a new one starts without, a photo left out leaves the draft. One transaction;
    the same checks as `add_draft` (1 to MAX_MEDIA photos, each once, none in another draft)."""
    if not 1 <= len(photo_ids) <= MAX_MEDIA:
        raise PawpostError(f"a post holds 1 to {MAX_MEDIA} photos, not {len(photo_ids)}")
    if len(set(photo_ids)) != len(photo_ids):
        raise PawpostError("a photo can be in a post only once")
    with store.tx() as db:
        rows = {r["photo_id"]: r for r in store.all(
            "SELECT id, photo_id, crop, alt_text, description FROM draft_media WHERE draft_id = ?", (draft_id,))}
        if not rows:
            raise NotFound(f"there is no draft {draft_id} (see 'pawpost drafts list')")
        for photo_id in photo_ids:
            other = draft_of_photo(store, photo_id)
            if other is not None and other != draft_id:
                raise PawpostError(f"photo {photo_id} is already in draft {other}")
        # (draft_id, position) is unique and positions are 0-9, so no row can move through a free place: the
        # rows are written again in the new order, each kept one under its own id (those first: a new row takes
        # the next free id, which may be a kept row's).
        db.execute("DELETE FROM draft_media WHERE draft_id = ?", (draft_id,))
        placed = sorted(enumerate(photo_ids), key=lambda pair: pair[1] not in rows)
        for position, photo_id in placed:
            kept = rows.get(photo_id)
            db.execute("INSERT INTO draft_media (id, draft_id, position, photo_id, crop, alt_text, description) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (kept["id"] if kept else None, draft_id, position, photo_id,
                        *((kept["crop"], kept["alt_text"], kept["description"]) if kept else (None, None, None))))


def update_medium(store: Store, draft_id: int, position: int = 0, **fields: Any) -> None:
    """Set a medium's own fields (crop, alt_text, description); the first medium unless `position` says."""
    unknown = set(fields) - set(MEDIUM_FIELDS)
    if unknown:
        raise ValueError(f"not a medium's field: {', '.join(sorted(unknown))}")
    if not fields:
        return
    sets = ", ".join(f"{k} = ?" for k in fields)
    values = [json.dumps(v) if isinstance(v, list | tuple) else v for v in fields.values()]
    with store.tx() as db:
        cur = db.execute(f"UPDATE draft_media SET {sets} WHERE draft_id = ? AND position = ?",
                         [*values, draft_id, position])
        if cur.rowcount == 0:
            raise NotFound(f"draft {draft_id} has no medium {position + 1}")


def _medium(row: Any) -> Medium:
    return Medium(row["draft_id"], row["position"], row["photo_id"], row["path"], row["source_name"],
                  kind=row["kind"], crop=_crop(row["crop"]), alt_text=row["alt_text"],
                  description=row["description"], duration_s=row["duration_s"], cover_at=row["cover_at"])


def _crop(raw: str | None) -> tuple[float, float, float, float] | None:
    if not raw:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in json.loads(raw))
    except (ValueError, TypeError):
        return None
    return (x0, y0, x1, y1)
