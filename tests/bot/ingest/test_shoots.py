"""A draft's shoot read back: the other distinct shots it offers, and why its frame leads."""

from __future__ import annotations

import json
from typing import Any

from bot.drafts.media import add_draft
from bot.ingest.shoots import lead_reason, shoot_alternatives
from tests.rows import START, make_photo, tag_pet


def _shoot(store: Any, *, offers: bool = True) -> int:
    at = START.isoformat()
    return store.insert("shoots", state="closed", first_taken_at=at, last_taken_at=at, last_arrival_at=at,
                        offers=int(offers), created_at=at, updated_at=at)


def _frame(store: Any, shoot: int, n: int, score: float, *, status: str = "analyzed", twin_of: int | None = None,
           **parts: float) -> int:
    photo_id = make_photo(store, f"frame-{shoot}-{n}", n)
    parts = {"sharpness": score, "exposure": 0.5, "size": 0.4, "place": 0.5, "total": score, **parts}
    store.update("photos", photo_id, status=status, shoot_id=shoot, shot_score=score,
                 score_parts=json.dumps(parts), near_duplicate_of=twin_of)
    return photo_id


def _draft(store: Any, photo_ids: list[int], status: str = "pending") -> int:
    at = START.isoformat()
    return add_draft(store, photo_ids, status=status, created_at=at, updated_at=at)


def test_a_shoot_offers_its_distinct_best_shots_not_in_a_draft_best_first(store: Any) -> None:
    shoot = _shoot(store)
    lead = _frame(store, shoot, 1, 0.9, status="drafted")
    low = _frame(store, shoot, 2, 0.3)
    high = _frame(store, shoot, 3, 0.7)
    _frame(store, shoot, 4, 0.6, twin_of=high)  # a near-identical copy of a better frame: never offered
    rejected = _frame(store, shoot, 5, 0.8)
    gone = _frame(store, shoot, 6, 0.85, status="quarantined")
    draft = _draft(store, [lead])
    _draft(store, [rejected], status="rejected")  # a photo is in at most one draft, ever

    assert shoot_alternatives(store, draft) == [high, low]
    assert gone not in shoot_alternatives(store, draft)
    other = _frame(store, _shoot(store), 7, 0.99)  # another shoot's frame
    assert other not in shoot_alternatives(store, draft)


def test_nothing_is_offered_outside_a_shoot_or_when_the_shoot_offers_nothing(store: Any) -> None:
    loose = make_photo(store, "loose", 1)
    assert shoot_alternatives(store, _draft(store, [loose])) == []
    quiet = _shoot(store, offers=False)
    lead = _frame(store, quiet, 1, 0.9, status="drafted")
    _frame(store, quiet, 2, 0.5)
    assert shoot_alternatives(store, _draft(store, [lead])) == []


def test_the_lead_reason_names_what_the_frame_is_best_at_and_how_much_the_pet_fills(store: Any) -> None:
    shoot = _shoot(store)
    lead = _frame(store, shoot, 1, 0.9, size=0.4)
    for n in range(2, 8):
        _frame(store, shoot, n, 0.5, twin_of=lead if n < 4 else None)
    tag_pet(store, lead, "Lola")
    assert lead_reason(store, lead) == "sharpest of 7; Lola fills 40 %; best of 3 near-identical frames"


def test_a_frame_not_sharpest_is_explained_by_what_it_is_best_at(store: Any) -> None:
    shoot = _shoot(store)
    sharp = _frame(store, shoot, 1, 0.9, exposure=0.2)
    bright = _frame(store, shoot, 2, 0.5, exposure=0.9)
    assert lead_reason(store, sharp) == "sharpest of 2"
    assert lead_reason(store, bright) == "best exposed of 2"


def test_no_reason_for_a_lone_frame_or_a_photo_in_no_shoot(store: Any) -> None:
    lone = _frame(store, _shoot(store), 1, 0.9)
    assert lead_reason(store, lone) is None
    assert lead_reason(store, make_photo(store, "loose", 2)) is None
