"""Forming shoots from analyzed frames: moment and pets, out-of-order arrival, settling, near-identical frames,
the leader, what a shoot's draft holds, and which frames the draft stage sees."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot import timeutil
from bot.config import Config
from bot.ingest.intake import ingest_inbox
from bot.ingest.photo_queue import due_photos, pending_counts
from bot.ingest.shoot_grouping import close_settled, form_shoots, next_close_in, planned_media
from bot.store.states import PhotoStatus
from tests.bot.photofiles import exif_bytes, photo
from tests.rows import START, make_photo, tag_pet

# Perceptual hashes: far apart (different pictures) unless made from the same base.
FAR = ["0000000000000000", "ffffffffffffffff", "00000000ffffffff", "ffffffff00000000", "0f0f0f0f0f0f0f0f",
       "f0f0f0f0f0f0f0f0", "3333333333333333", "cccccccccccccccc"]


def frame(store: Any, seconds: float, *, pet: str | None = "Lola", score: float = 0.5, phash: str | None = None,
          arrived: float = 0.0, status: str = "analyzed", n: list[int] = [0]) -> int:  # noqa: B006
    n[0] += 1
    photo_id = make_photo(store, f"f{n[0]}", n[0])
    taken = START + timedelta(seconds=seconds)
    store.update("photos", photo_id, status=status, taken_at=timeutil.iso_precise(taken), taken_at_source="exif",
                 created_at=timeutil.iso(START + timedelta(seconds=arrived)),
                 phash=phash or FAR[n[0] % len(FAR)], shot_score=score,
                 score_parts=json.dumps({"sharpness": score, "total": score}))
    if pet:
        for name in pet.split("+"):
            tag_pet(store, photo_id, name)
    return photo_id


def shoot_of(store: Any, photo_id: int) -> int | None:
    return store.value("SELECT shoot_id FROM photos WHERE id = ?", (photo_id,))


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    def set_clock(seconds: float) -> None:
        monkeypatch.setenv("PAWPOST_FAKE_NOW", (START + timedelta(seconds=seconds)).isoformat())
    set_clock(0)
    return set_clock


def test_frames_of_one_moment_and_pet_are_one_shoot(store: Any, config: Config, at: Any) -> None:
    a, b, c = frame(store, 0), frame(store, 50), frame(store, 160)  # chained within the 120 s gap
    other_pet = frame(store, 30, pet="Max")
    later = frame(store, 400)
    form_shoots(store, config)
    assert shoot_of(store, a) == shoot_of(store, b) == shoot_of(store, c)
    assert len({shoot_of(store, i) for i in (a, other_pet, later)}) == 3
    # A frame whose pet was not recognised (blurred, say) belongs to the shoot of its moment.
    nobody = frame(store, 41, pet=None)
    form_shoots(store, config)
    assert shoot_of(store, nobody) == shoot_of(store, a)
    both = frame(store, 60, pet="Lola+Max")  # shares a pet with the nearest shoot of that moment
    form_shoots(store, config)
    assert shoot_of(store, both) in (shoot_of(store, a), shoot_of(store, other_pet))


def test_a_frame_copied_in_late_joins_the_two_halves_of_its_burst(store: Any, config: Config, at: Any) -> None:
    early, late = frame(store, 0), frame(store, 200)
    form_shoots(store, config)
    assert shoot_of(store, early) != shoot_of(store, late)  # 200 s apart: two shoots, for now
    middle = frame(store, 100, arrived=5)
    form_shoots(store, config)
    assert shoot_of(store, early) == shoot_of(store, late) == shoot_of(store, middle)
    assert store.value("SELECT count(*) FROM shoots") == 1


def test_a_shoot_closes_once_settled_and_not_while_a_frame_of_it_waits(store: Any, config: Config, at: Any) -> None:
    first = frame(store, 0, arrived=0)
    form_shoots(store, config)
    assert next_close_in(store, config) == config.ingest.shoot_settle_seconds
    at(config.ingest.shoot_settle_seconds - 1)
    assert close_settled(store, config) == []
    waiting = frame(store, 5, status="new", arrived=2)  # copied in, not analyzed yet
    at(config.ingest.shoot_settle_seconds + 10)
    assert next_close_in(store, config) is None  # past its time, it waits for that frame, not for a clock
    assert close_settled(store, config) == []  # positive control below: the same call closes it once it is in
    assert close_settled(store, config, close_all=True) == []  # `pawpost ingest` waits for it too
    store.db.execute("UPDATE photos SET status = 'analyzed' WHERE id = ?", (waiting,))
    form_shoots(store, config)
    assert shoot_of(store, waiting) == shoot_of(store, first)
    assert store.value("SELECT state FROM shoots") == "closed"


def test_near_identical_frames_are_grouped_under_the_best_which_leads(store: Any, config: Config, at: Any) -> None:
    base = "00000000000000ff"
    blurred = frame(store, 0, score=0.3, phash=base)
    sharp = frame(store, 1, score=0.9, phash="00000000000000fe")  # 1 bit apart: the same picture
    dark = frame(store, 2, score=0.2, phash="00000000000001ff")
    other = frame(store, 3, score=0.6, phash="ffffffffffffff00")
    loose = make_photo(store, "no-capture-time", 99)  # no capture time at all: in no shoot, drafted by itself
    store.update("photos", loose, status="analyzed", origin="inbox")
    form_shoots(store, config, close_all=True)
    twins = {r["id"]: r["near_duplicate_of"] for r in store.all("SELECT id, near_duplicate_of FROM photos")}
    assert twins[blurred] == twins[dark] == sharp and twins[sharp] is None and twins[other] is None
    assert store.value("SELECT leader_photo_id FROM shoots") == sharp
    # The draft stage sees the leader only; the shoot's other frames stay analyzed, never drafted by themselves,
    # and wait for nothing.
    assert due_photos(store, PhotoStatus.ANALYZED) == [sharp, loose]
    assert pending_counts(store) == {"new": 0, "analyzed": 2}


def test_what_a_shoots_draft_holds_by_drafts_carousel(store: Any, config: Config, at: Any) -> None:
    ids = [frame(store, i, score=s) for i, s in enumerate((0.5, 0.9, 0.7, 0.6))]
    lone = frame(store, 900)
    form_shoots(store, config, close_all=True)
    leader = ids[1]
    assert planned_media(store, config, leader) == [leader]  # offer (the default)
    auto = config.model_copy(update={"drafts": config.drafts.model_copy(update={"carousel": "auto",
                                                                                 "carousel_max": 3})})
    assert planned_media(store, auto, leader) == [leader, ids[2], ids[3]]
    assert planned_media(store, auto, lone) == [lone]  # one distinct shot is not enough for a carousel


def test_a_shoot_drafted_with_never_offers_nothing(store: Any, config: Config, at: Any) -> None:
    from bot.drafts.media import add_draft
    from bot.ingest.shoots import shoot_alternatives

    never = config.model_copy(update={"drafts": config.drafts.model_copy(update={"carousel": "never"})})
    a, b = frame(store, 0, score=0.9), frame(store, 1, score=0.4)
    form_shoots(store, never, close_all=True)
    draft = add_draft(store, [a], status="pending", created_at=START.isoformat(), updated_at=START.isoformat())
    assert shoot_alternatives(store, draft) == []
    store.db.execute("UPDATE shoots SET offers = 1")
    assert shoot_alternatives(store, draft) == [b]


def test_a_near_duplicate_taken_in_the_same_burst_is_judged_by_its_shoot(store: Any, config: Config) -> None:
    (config.paths.inbox / "a.jpg").write_bytes(photo(9, exif=exif_bytes(taken="2024:05:06 07:08:09")))
    # The same picture a second later: a frame of the burst, judged by its shoot.
    (config.paths.inbox / "b.jpg").write_bytes(photo(9, quality=40, exif=exif_bytes(taken="2024:05:06 07:08:10")))
    # The same picture again, taken days later by its EXIF: it repeats photo a, as before shoots.
    (config.paths.inbox / "c.jpg").write_bytes(photo(9, quality=70, exif=exif_bytes(taken="2024:05:09 07:08:09")))
    summary = ingest_inbox(store, config)
    status = {r.source_name: r.status for r in summary.results}
    assert status == {"a.jpg": "new", "b.jpg": "new", "c.jpg": "duplicate"}


def test_a_better_frame_joining_a_closed_shoot_leads_while_nothing_is_drafted(store: Any, config: Config,
                                                                              at: Any) -> None:
    first = frame(store, 0, score=0.4)
    form_shoots(store, config, close_all=True)
    assert due_photos(store, PhotoStatus.ANALYZED) == [first]
    better = frame(store, 3, score=0.9)
    form_shoots(store, config)
    assert due_photos(store, PhotoStatus.ANALYZED) == [better]
    store.db.execute("UPDATE photos SET status = 'drafted' WHERE id = ?", (better,))
    late = frame(store, 4, score=0.95)  # the lead is drafted: a late frame is an alternative, never a second draft
    form_shoots(store, config)
    assert shoot_of(store, late) == shoot_of(store, first) and due_photos(store, PhotoStatus.ANALYZED) == []
