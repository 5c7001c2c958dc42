"""Drafts as the owner sees them: listing, showing, approving, editing and rejecting.

Services only: they return records and raise typed errors; bot/cli/ formats them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot import timeutil
from bot.captions.rules import instagram_limits
from bot.config import Config
from bot.errors import PawpostError
from bot.states import DraftStatus
from bot.store import Store


@dataclass
class Candidate:
    text: str
    score: float | None
    passed: bool
    reason: str | None


@dataclass
class DraftView:
    """A draft with what the owner needs to judge it; `to_json` is the CLI's JSON contract."""

    id: int
    status: str
    photo: str | None
    photo_id: int
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_DRAFT_SQL = """
    SELECT d.*, p.path AS photo_path,
           (SELECT group_concat(name, char(31)) FROM (
                SELECT pets.name AS name FROM photo_pets pp JOIN pets ON pets.id = pp.pet_id
                WHERE pp.photo_id = d.photo_id ORDER BY pp.confidence DESC, pets.name)) AS pet_names
    FROM drafts d JOIN photos p ON p.id = d.photo_id
"""


def list_drafts(store: Store, status: str | None = None, limit: int | None = None) -> list[DraftView]:
    """Drafts, newest first, optionally only those in `status`."""
    if status is not None and status not in DraftStatus.__members__.values():
        states = ", ".join(s.value for s in DraftStatus)
        raise PawpostError(f"unknown draft status {status!r}; use one of: {states}")
    where, params = ("WHERE d.status = ?", [status]) if status else ("", [])
    sql = f"{_DRAFT_SQL} {where} ORDER BY d.id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = store.all(sql, params)
    candidates = _candidates(store, [r["id"] for r in rows] if limit or status else None)
    return [_view(store, row, candidates.get(row["id"], [])) for row in rows]


def get_draft(store: Store, draft_id: int) -> DraftView:
    store.draft(draft_id)  # NotFound with a helpful message
    row = store.one(f"{_DRAFT_SQL} WHERE d.id = ?", (draft_id,))
    return _view(store, row, _candidates(store, [draft_id]).get(draft_id, []))


def _candidates(store: Store, draft_ids: list[int] | None) -> dict[int, list[Candidate]]:
    """The latest generation of candidates per draft, best first."""
    sql = """
        SELECT c.draft_id, c.text, c.score, c.passed, c.reason FROM candidates c
        WHERE c.generation = (SELECT max(generation) FROM candidates WHERE draft_id = c.draft_id)
    """
    params: list[Any] = []
    if draft_ids is not None:
        if not draft_ids:
            return {}
        sql += f" AND c.draft_id IN ({','.join('?' * len(draft_ids))})"
        params = list(draft_ids)
    sql += " ORDER BY c.draft_id, c.passed DESC, c.position"
    out: dict[int, list[Candidate]] = {}
    for r in store.all(sql, params):
        out.setdefault(r[0], []).append(Candidate(r[1], r[2], bool(r[3]), r[4]))
    return out


def _view(store: Store, row: sqlite3.Row, candidates: list[Candidate]) -> DraftView:
    path = store.abspath(row["photo_path"])
    return DraftView(
        id=row["id"],
        status=row["status"],
        photo=str(path) if path else None,
        photo_id=row["photo_id"],
        pets=row["pet_names"].split("\x1f") if row["pet_names"] else [],
        caption=row["caption"],
        candidates=[c.text for c in candidates if c.passed],
        created_at=row["created_at"],
        scheduled_for=row["scheduled_for"],
        posted_at=row["posted_at"],
        media_code=row["media_code"],
        error=row["error"],
        confidence=row["confidence"],
        edited=bool(row["edited"]),
        note=row["note"],
        hint=row["hint"],
        approved_at=row["approved_at"],
        media_url=row["media_url"],
        reject_reason=row["reject_reason"],
        rejected_candidates=[{"text": c.text, "reason": c.reason} for c in candidates if not c.passed],
    )


def approve(
    store: Store,
    config: Config,
    draft_id: int,
    *,
    candidate: int | None = None,
    caption: str | None = None,
    at: datetime | None = None,
) -> DraftView:
    """Approve a pending draft (or change an approved one): pick candidate N (1-based) or the owner's text."""
    if candidate is not None and caption is not None:
        raise PawpostError("give either --candidate or --caption, not both")
    view = get_draft(store, draft_id)
    if view.status not in (DraftStatus.PENDING, DraftStatus.APPROVED):
        raise PawpostError(f"draft {draft_id} is {view.status}; only pending or approved drafts can be approved")
    fields: dict[str, Any] = {}
    if candidate is not None:
        n = len(view.candidates)
        if not 1 <= candidate <= n:
            raise PawpostError(f"draft {draft_id} has {n} candidates; --candidate must be 1 to {n}")
        fields.update(caption=view.candidates[candidate - 1], chosen=candidate - 1)
    elif caption is not None:
        fields.update(_owner_caption(view, config, caption))
    elif not view.caption:
        raise PawpostError(
            f"draft {draft_id} has no caption yet: pass --caption TEXT, or run 'pawpost drafts regenerate {draft_id}'"
        )
    if at is not None:
        if at <= timeutil.now():
            raise PawpostError(f"--at {timeutil.local(at, config.schedule.zone)} is in the past")
        fields["scheduled_for"] = timeutil.iso(at)
    fields["approved_at"] = timeutil.iso(timeutil.now())
    store.set_draft_status(draft_id, DraftStatus.APPROVED, expect=view.status, **fields)
    return get_draft(store, draft_id)


def edit(store: Store, config: Config, draft_id: int, text: str) -> DraftView:
    """Replace the caption with the owner's text and record that it was edited (retraining learns from it)."""
    view = get_draft(store, draft_id)
    if view.status not in (DraftStatus.PENDING, DraftStatus.APPROVED):
        raise PawpostError(f"draft {draft_id} is {view.status}; only pending or approved drafts can be edited")
    if text.strip() == (view.caption or "").strip():
        return view
    store.set_draft_status(draft_id, view.status, expect=view.status, **_owner_caption(view, config, text))
    return get_draft(store, draft_id)


def _owner_caption(view: DraftView, config: Config, text: str) -> dict[str, Any]:
    text = text.strip()
    problem = instagram_limits(text, config.captions.max_hashtags)
    if problem:
        raise PawpostError(f"{problem}; nothing was changed")
    fields: dict[str, Any] = {"caption": text, "edited": 1, "chosen": None}
    # Keep what the model wrote, once, so retraining can learn from the difference.
    if not view.edited and view.caption:
        fields["generated_caption"] = view.caption
    return fields


def reject(store: Store, draft_id: int, reason: str | None = None) -> DraftView:
    view = get_draft(store, draft_id)
    if view.status != DraftStatus.PENDING:
        raise PawpostError(f"draft {draft_id} is {view.status}; only pending drafts can be rejected")
    store.set_draft_status(draft_id, DraftStatus.REJECTED, expect=DraftStatus.PENDING, reject_reason=reason)
    return get_draft(store, draft_id)


def parse_at(text: str, config: Config) -> datetime:
    """'YYYY-MM-DD HH:MM' in the schedule's time zone, as an aware datetime."""
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise PawpostError(f"--at {text!r} must look like '2026-12-24 19:00'") from None
    return naive.replace(tzinfo=config.schedule.zone)
