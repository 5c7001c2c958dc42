"""Shoots read back: a draft's other good shots (what the owner may add or swap in) and why a frame leads.

A shoot is a burst of frames of the same pets taken close together (`shoots` table); each frame carries its score
and score parts, and, when it nearly repeats a better frame, that frame's id (`photos.near_duplicate_of`).
"""

from __future__ import annotations

import json
from typing import Any

from bot.drafts.media import photos_in_drafts_sql
from bot.store.database import Store
from bot.store.states import PhotoStatus

# The frames of a shoot that count as its shots: judged by vision, and not set aside.
FRAME_STATES = (PhotoStatus.ANALYZED.value, PhotoStatus.DRAFTED.value)


def shoot_alternatives(store: Store, draft_id: int) -> list[int]:
    """Photo ids the draft's shoot offers besides the draft, best first.

    Each is the best frame of its group of near-identical frames and in no draft: `analyzed` (judged, never
    drafted), or `drafted` and taken out of its post by the owner. Empty when the draft's first photo is in no
    shoot, or the shoot was drafted with carousel = "never".
    """
    shoot = store.one("SELECT s.id, s.offers FROM draft_media m JOIN photos p ON p.id = m.photo_id "
                      "JOIN shoots s ON s.id = p.shoot_id WHERE m.draft_id = ? ORDER BY m.position LIMIT 1",
                      (draft_id,))
    if shoot is None or not shoot["offers"]:
        return []
    marks = ",".join("?" * len(FRAME_STATES))
    rows = store.all(
        f"SELECT id FROM photos WHERE shoot_id = ? AND status IN ({marks}) AND near_duplicate_of IS NULL "
        f"AND id NOT IN ({photos_in_drafts_sql()}) ORDER BY shot_score IS NULL, shot_score DESC, id",
        (shoot["id"], *FRAME_STATES),
    )
    return [r["id"] for r in rows]


def lead_reason(store: Store, photo_id: int) -> str | None:
    """Why this frame stands out in its shoot, in the owner's words ("sharpest of 7; Lola fills 40 %").

    None when the photo is in no shoot, its shoot holds no other judged frame, or it has no score yet.
    """
    row = store.one("SELECT shoot_id, score_parts FROM photos WHERE id = ?", (photo_id,))
    if row is None or row["shoot_id"] is None or not row["score_parts"]:
        return None
    marks = ",".join("?" * len(FRAME_STATES))
    frames = store.all(f"SELECT id, score_parts, near_duplicate_of FROM photos WHERE shoot_id = ? "
                       f"AND status IN ({marks}) AND score_parts IS NOT NULL ORDER BY id",
                       (row["shoot_id"], *FRAME_STATES))
    if len(frames) < 2:
        return None
    parts = {f["id"]: _parts(f["score_parts"]) for f in frames}
    mine = parts.get(photo_id) or _parts(row["score_parts"])
    says = [_standing(photo_id, mine, parts)]
    pets = _pet_names(store, photo_id)
    fill = mine.get("size")
    if pets and isinstance(fill, int | float) and fill > 0:
        verb = "fills" if len(pets) == 1 else "fill"
        says.append(f"{_names(pets)} {verb} {round(100 * fill)} %")
    twins = sum(1 for f in frames if f["near_duplicate_of"] == photo_id)
    if twins:
        says.append(f"best of {twins + 1} near-identical frames")
    return "; ".join(says)


def score_parts(store: Store, photo_id: int) -> dict[str, Any]:
    """A photo's score parts as stored (sharpness, exposure, size, place, detection, recognition), or {}."""
    return _parts(store.value("SELECT score_parts FROM photos WHERE id = ?", (photo_id,)))


# What each part is called when a frame is the best of its shoot at it, in the order they are tried.
_BEST_AT = (("sharpness", "sharpest"), ("exposure", "best exposed"), ("size", "closest"),
            ("place", "best framed"))


def _standing(photo_id: int, mine: dict[str, Any], parts: dict[int, dict[str, Any]]) -> str:
    n = len(parts)
    for key, words in _BEST_AT:
        value = mine.get(key)
        if isinstance(value, int | float) and all(value >= p.get(key, 0.0) for p in parts.values()):
            return f"{words} of {n}"
    totals = sorted(parts, key=lambda i: -float(parts[i].get("total", 0.0)))
    rank = totals.index(photo_id) + 1 if photo_id in totals else n
    return f"best overall of {n}" if rank == 1 else f"ranked {rank} of {n}"


def _pet_names(store: Store, photo_id: int) -> list[str]:
    rows = store.all("SELECT p.name FROM photo_pets pp JOIN pets p ON p.id = pp.pet_id WHERE pp.photo_id = ? "
                     "ORDER BY pp.confidence DESC, p.name", (photo_id,))
    return [r["name"] for r in rows]


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _parts(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
