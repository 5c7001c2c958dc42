"""Drafts as the owner sees them: listing, showing, approving, editing and rejecting.

Services only: they return records and raise typed errors; bot/cli/ formats them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import limits, timeutil
from bot.config import Config
from bot.controls import refuse_controls
from bot.drafts.lifecycle import Action, require
from bot.drafts.media import MEDIA_JSON_SQL, first_photo_sql, update_medium
from bot.drafts.timing import check_time, parse_at
from bot.errors import ChangedMeanwhile, NoCaption, NoSuchCandidate, PawpostError
from bot.store.database import Store
from bot.store.states import DraftStatus

__all__ = ["DraftView", "PetsCorrected", "approve", "check_version", "choose", "configured_hashtags", "correct_pets",
           "edit", "editable", "get_draft", "list_drafts", "list_json", "owner_caption_problem", "parse_at", "reject",
           "restore", "set_alt_text", "unapprove", "version_of"]


@dataclass
class DraftView:
    """A draft with what the owner needs to judge it; `to_json` is the CLI's JSON contract."""

    id: int
    status: str
    photo: str | None  # the first medium's library path
    photo_id: int  # the first medium's photo
    source_name: str | None  # the first medium's original file name, as it arrived in the inbox
    pets: list[str]
    caption: str | None
    candidates: list[str]
    created_at: str
    scheduled_for: str | None
    posted_at: str | None
    media_code: str | None
    error: str | None
    confidence: float | None = None
    edited: bool = False
    note: str | None = None
    hint: str | None = None
    approved_at: str | None = None
    media_url: str | None = None
    reject_reason: str | None = None
    rejected_candidates: list[dict[str, Any]] = field(default_factory=list)
    publish_state: str | None = None  # where a publishing draft stands: started | sent | unknown | with_owner
    alt_text: str | None = None  # filled by get_draft (bot.captions.alttext): the owner's, or written from the photo
    # Each medium in order: photo_id, path, kind, file_name, alt_text (the owner's; get_draft fills in the written).
    media: list[dict[str, Any]] = field(default_factory=list)
    updated_at: str | None = None
    kind: str = "photo"  # the first medium's: photo, or video (a Reel)
    duration_s: float | None = None  # a Reel's length in seconds
    cover_at: float | None = None  # a Reel's cover frame, seconds into the clip
    version: str = ""  # filled by get_draft: changes whenever the owner's view of the draft does (`version_of`)

    def to_json(self) -> dict[str, Any]:
        # Shallow: asdict() deep-copies every list and is the slowest part of listing 10,000 drafts.
        return dict(self.__dict__)


# A draft's JSON document (the CLI contract), built by SQLite: listing 10,000 drafts must stay far cheaper than
# importing torch. Each aggregate reads an ordered subquery (candidates in rank order, position 0 the best; pets
# most confident first), which the unique (draft_id, generation, position) index serves without sorting. `photo`,
# `photo_id` and `source_name` are the first medium's; `pets` are every pet of the post, the first photo's first.
_LATEST = "c.draft_id = d.id AND c.generation = (SELECT max(generation) FROM candidates WHERE draft_id = d.id)"
_DRAFT_JSON_SQL = f"""
SELECT json_object(
    'id', d.id, 'status', d.status,
    'photo', CASE WHEN p.path IS NULL THEN NULL ELSE :data_dir || '/' || p.path END,
    'photo_id', p.id, 'source_name', p.source_name,
    'kind', p.kind, 'duration_s', p.duration_s, 'cover_at', p.cover_at,
    'media', json({MEDIA_JSON_SQL}),
    'pets', (SELECT json_group_array(name) FROM (
        SELECT pets.name FROM draft_media m JOIN photo_pets pp ON pp.photo_id = m.photo_id
        JOIN pets ON pets.id = pp.pet_id WHERE m.draft_id = d.id
        GROUP BY pets.id ORDER BY min(m.position), max(pp.confidence) DESC, pets.name)),
    'caption', d.caption,
    'candidates', (SELECT json_group_array(text) FROM (
        SELECT c.text FROM candidates c WHERE {_LATEST} AND c.passed ORDER BY c.position)),
    'created_at', d.created_at, 'updated_at', d.updated_at, 'scheduled_for', d.scheduled_for,
    'posted_at', d.posted_at,
    'media_code', d.media_code, 'error', d.error,
    'confidence', d.confidence, 'edited', json(CASE WHEN d.edited THEN 'true' ELSE 'false' END),
    'note', d.note, 'hint', d.hint, 'approved_at', d.approved_at, 'media_url', d.media_url,
    'reject_reason', d.reject_reason, 'publish_state', d.publish_state,
    'rejected_candidates', (SELECT json_group_array(json_object('text', text, 'reason', reason)) FROM (
        SELECT c.text, c.reason FROM candidates c WHERE {_LATEST} AND NOT c.passed ORDER BY c.position))
)
FROM drafts d JOIN photos p ON p.id = {first_photo_sql("d")}
"""


def list_json(store: Store, status: str | None = None, limit: int | None = None) -> str:
    """Drafts, newest first, as one JSON array (text): the fast path behind `drafts list --json`."""
    if status is not None and status not in DraftStatus.__members__.values():
        states = ", ".join(s.value for s in DraftStatus)
        raise PawpostError(f"unknown draft status {status!r}; use one of: {states}")
    sql = _DRAFT_JSON_SQL + (" WHERE d.status = :status" if status else "") + " ORDER BY d.id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = store.db.execute(sql, {"data_dir": str(store.data_dir), "status": status})
    return "[" + ",".join(row[0] for row in rows) + "]"


def list_drafts(store: Store, status: str | None = None, limit: int | None = None) -> list[DraftView]:
    """Drafts, newest first, optionally only those in `status`."""
    views = [DraftView(**item) for item in json.loads(list_json(store, status, limit))]
    for view in views:
        view.version = version_of(view)
    return views


def get_draft(store: Store, draft_id: int) -> DraftView:
    store.draft(draft_id)  # NotFound with a helpful message
    row = store.one(_DRAFT_JSON_SQL + " WHERE d.id = :id", {"data_dir": str(store.data_dir), "id": draft_id})
    from bot.captions.alttext import media_alt_texts

    view = DraftView(**json.loads(row[0]))
    view.version = version_of(view)  # of the stored alt texts (the owner's), before the written ones fill in
    written = media_alt_texts(store, draft_id)
    for medium, alt in zip(view.media, written, strict=True):
        medium["alt_text"] = alt or None
    view.alt_text = (written[0] or None) if written else None
    return view


def version_of(view: DraftView) -> str:
    """A short fingerprint of what an owner changes on a draft (state, caption, the owner's alt texts, time, last
    change), from the stored values: an editor or a page opened at one version must not save over another."""
    seen = [view.status, view.caption, view.scheduled_for, view.updated_at, [m.get("alt_text") for m in view.media]]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()[:16]


def check_version(store: Store, draft_id: int, expect: str | None) -> DraftView:
    """The draft as it is now; ChangedMeanwhile when `expect` (the version the owner opened) is given and no longer
    matches. Call it inside the transaction that writes, so nothing can come between the check and the write."""
    view = get_draft(store, draft_id)
    if expect and view.version != expect:
        raise ChangedMeanwhile(draft_id, view.status, view.caption)
    return view


def approve(
    store: Store,
    config: Config,
    draft_id: int,
    *,
    candidate: int | None = None,
    caption: str | None = None,
    at: datetime | None = None,
    alt_text: str | None = None,
    add_hashtags: bool = True,
    expect_version: str | None = None,
) -> DraftView:
    """Approve a pending draft (or change an approved one): pick candidate N (1-based) or the owner's text;
    `alt_text` replaces the written alt text. `add_hashtags=False` posts the owner's text exactly as written (the
    review page's caption field shows the hashtags already there, as the editor does). With `expect_version` (the
    version the owner's page showed) a draft changed meanwhile is refused (ChangedMeanwhile), atomically."""
    if expect_version:
        with store.tx():
            check_version(store, draft_id, expect_version)
            return approve(store, config, draft_id, candidate=candidate, caption=caption, at=at, alt_text=alt_text,
                           add_hashtags=add_hashtags)
    if candidate is not None and caption is not None:
        raise PawpostError("give either a candidate or a caption, not both")
    view = get_draft(store, draft_id)
    require(Action.APPROVE, view)
    fields: dict[str, Any] = {}
    if candidate is not None:
        fields.update(_candidate(view, candidate))
    elif caption is not None:
        fields.update(_owner_caption(view, config, caption, add_hashtags=add_hashtags))
    elif not view.caption:
        raise NoCaption(draft_id)
    if at is not None:
        fields["scheduled_for"] = timeutil.iso(at)
    alt = None
    if alt_text is not None:
        from bot.captions.alttext import clean_alt_text

        alt = clean_alt_text(alt_text)
    fields["approved_at"] = timeutil.iso(timeutil.now())
    if view.status == DraftStatus.FAILED:
        fields.update(error=None, retry_after=None)  # the refusal was of the draft as it was; an event records it
    with store.tx():
        if at is not None:
            # Whether the time is free is read under the write lock (BEGIN IMMEDIATE) the approval is written in:
            # two approvals for one time at once cannot both see it free; the loser is refused (TimeTaken).
            check_time(store, config, draft_id, at)
        if alt is not None:
            update_medium(store, draft_id, 0, alt_text=alt)
        store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=view.status, **fields)
    return get_draft(store, draft_id)


def editable(store: Store, draft_id: int) -> DraftView:
    """The draft, if its caption may still change; else NotAllowed."""
    view = get_draft(store, draft_id)
    require(Action.EDIT, view)
    return view


def choose(store: Store, draft_id: int, candidate: int, *, expect_version: str | None = None) -> DraftView:
    """Make candidate N (1-based) the caption without approving: the page's 'pick'."""
    with store.tx():
        check_version(store, draft_id, expect_version)
        view = editable(store, draft_id)
        store.set_draft_status(draft_id, view.status, expect=view.status, **_candidate(view, candidate))
    return get_draft(store, draft_id)


def _candidate(view: DraftView, candidate: int) -> dict[str, Any]:
    if not 1 <= candidate <= len(view.candidates):
        raise NoSuchCandidate(view.id, len(view.candidates), candidate)
    return {"caption": view.candidates[candidate - 1], "chosen": candidate - 1}


def edit(store: Store, config: Config, draft_id: int, text: str, *, expect_version: str | None = None) -> DraftView:
    """Replace the caption with the owner's text and record that it was edited (retraining learns from it).
    `expect_version`: the version the editor or page was opened at; a draft changed since is ChangedMeanwhile."""
    with store.tx():
        check_version(store, draft_id, expect_version)
        view = editable(store, draft_id)
        if text.strip() == (view.caption or "").strip():
            return view
        store.set_draft_status(draft_id, view.status, expect=view.status, **_owner_caption(view, config, text))
    return get_draft(store, draft_id)


def set_alt_text(store: Store, draft_id: int, text: str, *, expect_version: str | None = None) -> DraftView:
    """The owner's alt text for the first photo of a draft whose post is still to come (what every publisher sends
    as the photo's accessibility text); the same check as `drafts approve --alt`."""
    from bot.captions.alttext import clean_alt_text

    view = editable(store, draft_id)
    if text.strip() != (view.alt_text or "").strip():
        alt = clean_alt_text(text)
        with store.tx():
            check_version(store, draft_id, expect_version)
            update_medium(store, draft_id, 0, alt_text=alt)
            # Through the state owner, unchanged: the draft's updated_at moves and a changed state is refused.
            store.set_draft_status(draft_id, view.status, expect=view.status)
    return get_draft(store, draft_id)


def owner_caption_problem(text: str, config: Config) -> str | None:
    """Why the owner's `text` cannot be a caption (Instagram's limits, control characters, max_hashtags), or None."""
    return limits.caption_problem(limits.normalise(text), config.captions.max_hashtags)


def _owner_caption(view: DraftView, config: Config, text: str, *, add_hashtags: bool = False) -> dict[str, Any]:
    """The fields for a caption the owner wrote. The hashtag rule (README, "Hashtags"): captions.max_hashtags caps
    every caption, the owner's too; a caption given with --caption also gets the photo's pets' and the account's
    hashtags it lacks while it has room for them. An edit in the editor is posted exactly as saved (the owner saw
    the hashtags there)."""
    text = limits.normalise(text)
    problem = limits.caption_problem(text, config.captions.max_hashtags)
    if problem:
        raise PawpostError(f"{problem}; nothing was changed")
    if add_hashtags:
        text = limits.add_hashtags(text, configured_hashtags(config, view.pets), config.captions.max_hashtags)
    # The owner's own words settle the draft: a "no caption passed the rules" note no longer applies.
    fields: dict[str, Any] = {"caption": text, "edited": 1, "chosen": None, "note": None}
    # Keep what the model wrote, once, so retraining can learn from the difference.
    if not view.edited and view.caption:
        fields["generated_caption"] = view.caption
    return fields


def configured_hashtags(config: Config, pet_names: list[str]) -> list[str]:
    """The hashtags every caption should carry: the photo's pets' first, then the account's, each once."""
    tags = [t for name in pet_names if (pet := config.pet(name)) is not None for t in pet.hashtags]
    seen: dict[str, str] = {}
    for tag in [*tags, *config.captions.hashtags]:
        seen.setdefault(tag.lower(), tag)
    return list(seen.values())


def reject(store: Store, draft_id: int, reason: str | None = None) -> DraftView:
    refuse_controls(reason or "", "reason")
    view = get_draft(store, draft_id)
    require(Action.REJECT, view)
    store.set_draft_status(draft_id, DraftStatus.REJECTED, expect=DraftStatus.PENDING, reject_reason=reason)
    return get_draft(store, draft_id)


def unapprove(store: Store, draft_id: int, *, expect_version: str | None = None) -> DraftView:
    """The owner's undo of an approval: an approved draft back to pending, its approval time and asked-for time
    dropped (a new approval asks again). Refused once it is publishing or posted."""
    with store.tx():
        view = check_version(store, draft_id, expect_version)
        require(Action.UNAPPROVE, view)
        store.set_draft_status(draft_id, DraftStatus.PENDING, expect=DraftStatus.APPROVED, approved_at=None,
                               scheduled_for=None)
        store.event("draft.unapproved", f"draft {draft_id}: owner undid the approval; pending again",
                    draft_id=draft_id)
    return get_draft(store, draft_id)


def restore(store: Store, draft_id: int, *, expect_version: str | None = None) -> DraftView:
    """The owner's undo of a rejection: a rejected draft back to pending, its rejection reason dropped."""
    with store.tx():
        view = check_version(store, draft_id, expect_version)
        require(Action.RESTORE, view)
        store.set_draft_status(draft_id, DraftStatus.PENDING, expect=DraftStatus.REJECTED, reject_reason=None)
        store.event("draft.restored", f"draft {draft_id}: owner undid the rejection; pending again",
                    draft_id=draft_id)
    return get_draft(store, draft_id)


@dataclass
class PetsCorrected:
    """The owner's word on the pets, saved (`correction`, bot.vision's Correction), and what became of the caption
    (`caption`, bot.drafts.pet_caption's CaptionFix; None when the pets stayed the same or it can no longer
    change)."""

    correction: Any
    caption: Any = None


def correct_pets(store: Store, config: Config, vision: Any, draft_id: int, names: list[str]) -> PetsCorrected:
    """The owner's word on which pets are in the draft's photo (NAME... or 'none'); pawpost learns from it, and the
    caption's pet names and hashtags follow (bot.drafts.pet_caption)."""
    from bot.drafts.pet_caption import fix_draft_caption
    from bot.vision.corrections import set_draft_pets

    require(Action.CORRECT_PETS, store.draft(draft_id))
    before = get_draft(store, draft_id).pets
    correction = set_draft_pets(store, config, vision, draft_id, names)
    return PetsCorrected(correction, fix_draft_caption(store, config, get_draft(store, draft_id), before))
