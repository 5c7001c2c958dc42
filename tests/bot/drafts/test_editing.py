"""bot/drafts/editing.py: the owner adds, removes, moves and splits out a post's photos; 1 to 10 photos at places
0..n-1, a photo in one draft at most, one event per change, an approved draft back to pending, and a word when the
pets of the post changed."""

from __future__ import annotations

from typing import Any

import pytest

from bot.drafts.actions import approve, get_draft, list_drafts
from bot.drafts.editing import add_photo, move_photo, remove_photo, split_photo
from bot.drafts.media import MAX_MEDIA, draft_of_photo, media_of, update_medium
from bot.errors import MediaCount, NoSuchPlace, NotAllowed, NotInDraft, PhotoUnavailable
from tests.bot.drafts.test_media import draft, photo


def order(store: Any, draft_id: int) -> list[int]:
    media = media_of(store, draft_id)
    assert [m.position for m in media] == list(range(len(media)))  # no gaps, from 0
    return [m.photo_id for m in media]


def events(store: Any, draft_id: int) -> list[str]:
    return [r["message"] for r in store.all("SELECT message FROM events WHERE kind = 'draft.media' AND draft_id = ? "
                                            "ORDER BY id", (draft_id,))]


def analyzed(store: Any, name: str, pet: str | None = None) -> int:
    photo_id = photo(store, name, pet)
    store.update("photos", photo_id, status="analyzed")
    return photo_id


def test_move_reorders_and_keeps_each_photos_own_fields(store) -> None:
    a, b, c = photo(store, "a", "Lola"), photo(store, "b", "Lola"), photo(store, "c", "Lola")
    draft_id = draft(store, [a, b, c])
    update_medium(store, draft_id, 2, alt_text="Lola on the beach", crop=(0.1, 0.0, 0.9, 1.0))

    change = move_photo(store, draft_id, c, 0)

    assert order(store, draft_id) == [c, a, b]
    moved = media_of(store, draft_id)[0]
    assert (moved.alt_text, moved.crop) == ("Lola on the beach", (0.1, 0.0, 0.9, 1.0))
    assert change.draft.photo_id == c and not change.caption_may_not_fit and not change.unapproved
    move_photo(store, draft_id, c, 2)
    assert order(store, draft_id) == [a, b, c]
    assert events(store, draft_id) == [f"draft {draft_id}: photo {c} moved to place 1, now 3 photo(s)",
                                       f"draft {draft_id}: photo {c} moved to place 3, now 3 photo(s)"]
    with pytest.raises(NoSuchPlace, match="pick a place from 1 to 3, not 4"):
        move_photo(store, draft_id, a, 3)
    with pytest.raises(NotInDraft):
        move_photo(store, draft_id, 999, 0)
    assert order(store, draft_id) == [a, b, c]


def test_add_takes_an_analyzed_photo_in_no_draft_and_says_a_new_pet_joined(store) -> None:
    a = photo(store, "a", "Lola")
    draft_id = draft(store, [a])
    b = analyzed(store, "b", "Bruno")

    change = add_photo(store, draft_id, b, 0)

    assert order(store, draft_id) == [b, a]
    assert store.photo(b)["status"] == "drafted"  # in a post now: no stage drafts it on its own
    assert change.pets_added == ("Bruno",) and change.caption_may_not_fit
    assert "pets added: Bruno" in events(store, draft_id)[0]

    other = draft(store, [photo(store, "x")])
    with pytest.raises(PhotoUnavailable, match=f"it is in draft {draft_id}"):
        add_photo(store, other, b)
    fresh = photo(store, "new")
    store.update("photos", fresh, status="new")
    with pytest.raises(PhotoUnavailable, match="it is new, not an analyzed photo"):
        add_photo(store, draft_id, fresh)
    with pytest.raises(PhotoUnavailable, match="no such photo"):
        add_photo(store, draft_id, 4242)
    assert order(store, draft_id) == [b, a] and order(store, other) != [b]


def test_a_post_holds_one_to_ten_photos(store) -> None:
    ids = [photo(store, f"p{n}") for n in range(MAX_MEDIA)]
    draft_id = draft(store, ids)
    extra = analyzed(store, "extra")

    with pytest.raises(MediaCount, match="already holds 10 photos"):
        add_photo(store, draft_id, extra)
    assert store.photo(extra)["status"] == "analyzed"  # refused: nothing changed, the photo included
    for photo_id in ids[1:]:
        remove_photo(store, draft_id, photo_id)
    with pytest.raises(MediaCount, match="only one photo; reject the draft instead"):
        remove_photo(store, draft_id, ids[0])
    with pytest.raises(MediaCount):
        split_photo(store, draft_id, ids[0])
    assert order(store, draft_id) == [ids[0]]


def test_removing_the_only_photo_of_a_pet_says_the_caption_may_not_fit_and_the_photo_can_come_back(store) -> None:
    a, b, c = photo(store, "a", "Lola"), photo(store, "b", "Bruno"), photo(store, "c", "Lola")
    draft_id = draft(store, [a, b, c])

    kept_pets = remove_photo(store, draft_id, c)
    assert not kept_pets.caption_may_not_fit  # Lola is still in photo a

    change = remove_photo(store, draft_id, b)
    assert change.pets_lost == ("Bruno",) and change.caption_may_not_fit
    assert order(store, draft_id) == [a] and draft_of_photo(store, b) is None
    assert store.photo(b)["status"] == "drafted"  # taken out by the owner: never drafted again by itself
    add_photo(store, draft_id, b)
    assert order(store, draft_id) == [a, b]


def test_a_change_sends_an_approved_draft_back_to_pending(store, config) -> None:
    a, b = photo(store, "a"), photo(store, "b")
    draft_id = draft(store, [a, b])
    approve(store, config, draft_id)
    assert store.draft(draft_id)["approved_at"]

    change = move_photo(store, draft_id, b, 0)

    assert change.unapproved and change.draft.status == "pending"
    assert store.draft(draft_id)["approved_at"] is None
    assert events(store, draft_id)[-1].endswith("back to pending")


@pytest.mark.parametrize("status", ["publishing", "posted", "rejected", "failed"])
def test_only_pending_or_approved_posts_change(store, status: str) -> None:
    a, b = photo(store, "a"), photo(store, "b")
    draft_id = draft(store, [a, b], status=status)
    spare = analyzed(store, "spare")

    for change in (lambda: move_photo(store, draft_id, b, 0), lambda: remove_photo(store, draft_id, b),
                   lambda: add_photo(store, draft_id, spare), lambda: split_photo(store, draft_id, b)):
        with pytest.raises(NotAllowed, match=f"is {status}; only the photos of pending or approved drafts"):
            change()
    assert order(store, draft_id) == [a, b] and store.photo(spare)["status"] == "analyzed"
    assert store.value("SELECT count(*) FROM drafts") == 1 and events(store, draft_id) == []


def test_split_makes_a_pending_draft_of_the_photo_with_its_own_fields(store, config) -> None:
    a, b, c = photo(store, "a", "Lola"), photo(store, "b", "Bruno"), photo(store, "c", "Lola")
    draft_id = draft(store, [a, b, c])
    update_medium(store, draft_id, 1, alt_text="Bruno in the sun", description="a cat in the sun")
    approve(store, config, draft_id)

    change = split_photo(store, draft_id, b)

    assert order(store, draft_id) == [a, c] and change.unapproved and change.pets_lost == ("Bruno",)
    new = change.new_draft
    assert new is not None and order(store, new) == [b] and draft_of_photo(store, b) == new
    split = get_draft(store, new)
    assert (split.status, split.caption, split.candidates) == ("pending", None, [])
    assert f"drafts regenerate {new}" in (split.note or "")
    medium = media_of(store, new)[0]
    assert (medium.alt_text, medium.description) == ("Bruno in the sun", "a cat in the sun")
    assert f"photo {b} split out" in events(store, draft_id)[0]


def shoot_of(store: Any, scores: dict[int, float], twins: dict[int, int] | None = None) -> int:
    """One closed shoot of the photos `scores` names (their best-shot scores); `twins` maps a near-identical frame
    to the better frame it repeats."""
    import json

    at = "2026-11-27T08:00:00+00:00"
    shoot = store.insert("shoots", state="closed", first_taken_at=at, last_taken_at=at, last_arrival_at=at,
                         offers=1, created_at=at, updated_at=at)
    for photo_id, score in scores.items():
        parts = {"sharpness": score, "exposure": 0.5, "size": 0.4, "place": 0.5, "total": score}
        store.update("photos", photo_id, shoot_id=shoot, shot_score=score, score_parts=json.dumps(parts),
                     near_duplicate_of=(twins or {}).get(photo_id))
    return shoot


def test_the_shoot_offers_its_other_shots_and_says_why_the_cover_leads(store) -> None:
    from bot.drafts.editing import media_views, offered

    lead = photo(store, "lead", "Lola")
    draft_id = draft(store, [lead])
    good, better = analyzed(store, "good", "Lola"), analyzed(store, "better", "Lola")
    twin = analyzed(store, "twin", "Lola")
    shoot_of(store, {lead: 0.95, good: 0.6, better: 0.8, twin: 0.7}, twins={twin: better})

    offers = offered(store, draft_id)

    assert [o.photo_id for o in offers] == [better, good]  # best first; the near-identical twin is not offered
    assert (offers[0].source_name, offers[0].pets) == ("better.HEIC", ["Lola"])
    assert media_views(store, draft_id)[0].lead_reason == "sharpest of 4; Lola fills 40 %"
    add_photo(store, draft_id, better)
    assert [o.photo_id for o in offered(store, draft_id)] == [good]


def test_the_drafts_pets_are_every_pet_of_the_post_the_covers_first(store) -> None:
    lola, bruno = photo(store, "lola", "Lola"), photo(store, "bruno", "Bruno")
    draft_id = draft(store, [lola, bruno])
    assert get_draft(store, draft_id).pets == ["Lola", "Bruno"]

    move_photo(store, draft_id, bruno, 0)

    assert get_draft(store, draft_id).pets == ["Bruno", "Lola"]
    assert [d.pets for d in list_drafts(store)] == [["Bruno", "Lola"]]
