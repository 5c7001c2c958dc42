"""A carousel's posted copies: one aspect ratio for every photo (Instagram shows them all at the first one's), chosen
so that every photo keeps its pets; the owner's frame kept whole; the cache keyed on the whole media list in order."""

from __future__ import annotations

from typing import Any

import pytest

from bot.drafts.media import media_of, update_medium
from bot.limits import MAX_RATIO, MIN_RATIO
from bot.publish.framing import Shot, carousel_ratio, frame_shot
from bot.publish.prepare import post_plan, prepare_waiting, prepared_copy, prepared_key, stage_post
from tests.bot.publish.conftest import make_carousel


def inside(box, crop) -> bool:
    return crop[0] <= box[0] and crop[1] <= box[1] and box[2] <= crop[2] and box[3] <= crop[3]


def move(store: Any, draft_id: int, order: list[int]) -> None:
    """Put the draft's media in `order` (old positions), as `drafts media ID move` leaves them."""
    media = media_of(store, draft_id)
    with store.tx() as db:
        for medium in media:
            db.execute("UPDATE draft_media SET position = ? WHERE draft_id = ? AND photo_id = ?",
                       (9 - medium.position, draft_id, medium.photo_id))
        for new, old in enumerate(order):
            db.execute("UPDATE draft_media SET position = ? WHERE draft_id = ? AND position = ?",
                       (new, draft_id, 9 - old))


def test_every_photo_of_a_carousel_is_cut_to_one_ratio_that_keeps_its_pets(store):
    pets = [[[20, 300, 300, 700]],  # at the left edge of a landscape
            [[100, 600, 500, 880]],  # at the bottom of a tall portrait
            [[10, 50, 200, 450], [1300, 50, 1490, 450]]]  # two, at both ends of a panorama
    draft_id = make_carousel(store, sizes=[(1200, 900), (600, 900), (1500, 500)], boxes=pets)

    post = stage_post(store, draft_id, "Three #dog", "a" * 32, ["one", "two", "three"], store.data_dir / "prepared")

    ratios = [m.width / m.height for m in post.media]
    assert all(MIN_RATIO <= r <= MAX_RATIO for r in ratios)
    assert max(ratios) - min(ratios) < 1 / min(m.height for m in post.media) * 2  # one shape, to the pixel
    plan = post_plan(store, draft_id)
    assert plan.ratio == pytest.approx(ratios[0], abs=0.01)
    for shot, boxes in zip(plan.shots, pets, strict=True):
        frame = frame_shot(shot, plan.ratio)
        assert all(inside(box, frame.crop) for box in boxes)


def test_the_ratio_keeps_the_most_of_every_photo_and_never_cuts_a_pet():
    assert carousel_ratio([Shot(800, 1000), Shot(1600, 2000), Shot(400, 500)]) == pytest.approx(0.8)
    assert carousel_ratio([Shot(1000, 1000), Shot(1200, 1200)]) == pytest.approx(1.0)
    assert carousel_ratio([Shot(1500, 1000), Shot(1200, 800)]) == pytest.approx(1.5)
    # A panorama whose pets stand at both ends, behind a portrait cover: at the cover's 4:5 the panorama would be
    # three quarters bars; the widest frame keeps both pets with little padding, and the cover gives up rows.
    shots = [Shot(800, 1000), Shot(1500, 500, ((10, 50, 200, 450), (1300, 50, 1490, 450)))]
    ratio = carousel_ratio(shots)
    assert ratio == pytest.approx(MAX_RATIO)
    pano = frame_shot(shots[1], ratio)
    assert inside((10, 50, 1490, 450), pano.crop) and pano.canvas[1] < 800
    # A portrait cover and a landscape without pets: either loses as much; the cover's shape wins the tie.
    assert carousel_ratio([Shot(800, 1000), Shot(1910, 1000)]) == pytest.approx(0.8)
    # Two photos whose pets need opposite shapes: both are kept whole, one padded.
    tall_pet = Shot(1000, 1000, ((450, 0, 550, 1000),))
    wide_pet = Shot(1000, 1000, ((0, 450, 1000, 550),))
    ratio = carousel_ratio([tall_pet, wide_pet])
    assert inside((450, 0, 550, 1000), frame_shot(tall_pet, ratio).crop)
    assert inside((0, 450, 1000, 550), frame_shot(wide_pet, ratio).crop)


def test_the_owners_frame_is_kept_whole_and_only_padded(store):
    draft_id = make_carousel(store, sizes=[(1200, 900), (1200, 900)])
    update_medium(store, draft_id, 1, crop=[100, 200, 500, 700])  # a 4:5 frame, in the upright photo's pixels
    before = prepared_key(store, media_of(store, draft_id)[0].photo_id)[0]

    plan = post_plan(store, draft_id)

    assert plan.shots[1].crop == (100.0, 200.0, 500.0, 700.0)
    assert frame_shot(plan.shots[1], plan.ratio).crop == (100, 200, 500, 700)  # never cut into
    assert plan.ratio == pytest.approx(0.8)  # the owner's 4:5 frame leads: the other photo is cut to it
    update_medium(store, draft_id, 1, crop=None)
    assert prepared_key(store, media_of(store, draft_id)[0].photo_id)[0] != before  # the cover's copy changes too


def test_the_cache_keys_on_the_whole_media_list_and_its_order(store):
    draft_id = make_carousel(store)
    ids = [m.photo_id for m in media_of(store, draft_id)]
    assert prepare_waiting(store) == 3
    made = {pid: prepared_copy(store, pid) for pid in ids}
    assert prepare_waiting(store) == 0  # current: nothing made again
    assert {pid: prepared_copy(store, pid) for pid in ids} == made

    move(store, draft_id, [2, 0, 1])  # the last photo leads now

    assert prepare_waiting(store) == 3  # a new cover can mean a new ratio: every copy is made again
    assert all(not path.exists() for path in made.values())  # and the old ones are gone
    pet = store.insert("pets", name="Lola", species="dog", created_at="2026-11-20T00:00:00+00:00")
    keys = [prepared_key(store, pid)[0] for pid in ids]
    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, 1, ?, 'owner')",
                     (ids[1], pet, "[0, 0, 100, 100]"))
    assert all(prepared_key(store, pid)[0] != key for pid, key in zip(ids, keys, strict=True))
