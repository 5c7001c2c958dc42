"""bot/drafts/cover.py and the Reel's place among drafts: a Reel's cover is set within the clip (with an event and
a new version of the draft), never for a photo post or a post already gone out; a video never joins a carousel,
nor a photo a Reel."""

from __future__ import annotations

import pytest

from bot.drafts.actions import get_draft
from bot.drafts.cover import set_cover
from bot.drafts.editing import add_photo
from bot.errors import ChangedMeanwhile, CoverOutside, NotAllowed, NotAReel, PhotoUnavailable
from tests.bot.drafts.test_media import draft, photo


def clip(store, name: str, *, status: str = "drafted") -> int:
    photo_id = photo(store, name, "Lola")
    store.update("photos", photo_id, kind="video", duration_s=12.5, cover_at=3.0, status=status, format="MP4")
    return photo_id


def test_the_owner_sets_a_reels_cover_within_the_clip(store) -> None:
    reel = draft(store, [clip(store, "walk")])
    before = get_draft(store, reel)
    assert (before.kind, before.duration_s, before.cover_at) == ("video", 12.5, 3.0)
    store.update("drafts", reel, updated_at="2026-01-01T00:00:00+00:00")
    before = get_draft(store, reel)
    after = set_cover(store, reel, 7.25, version=before.version)
    assert after.cover_at == 7.25 and after.media[0]["cover_at"] == 7.25 and after.version != before.version
    assert store.value("SELECT message FROM events WHERE kind = 'draft.cover'") == (
        f"draft {reel}: cover at 7.25 s (was 3 s)")
    assert set_cover(store, reel, 0).cover_at == 0  # the very first frame is a frame
    for wrong in (12.5, 13, -0.1, float("nan"), float("inf")):
        with pytest.raises(CoverOutside):
            set_cover(store, reel, wrong)
    with pytest.raises(ChangedMeanwhile):
        set_cover(store, reel, 1.0, version=before.version)  # the page showed it before the change
    assert get_draft(store, reel).cover_at == 0


def test_no_cover_for_a_photo_post_or_a_post_gone_out(store) -> None:
    photos = draft(store, [photo(store, "a", "Lola")])
    with pytest.raises(NotAReel):
        set_cover(store, photos, 1.0)
    posted = draft(store, [clip(store, "gone")], status="posted")
    with pytest.raises(NotAllowed):
        set_cover(store, posted, 1.0)
    assert get_draft(store, posted).cover_at == 3.0


def test_a_video_never_joins_a_carousel_nor_a_photo_a_reel(store) -> None:
    carousel = draft(store, [photo(store, "a", "Lola"), photo(store, "b", "Lola")])
    walk = clip(store, "walk", status="analyzed")
    with pytest.raises(PhotoUnavailable, match="posted alone as a Reel"):
        add_photo(store, carousel, walk)
    reel = draft(store, [clip(store, "run")])
    loose = photo(store, "c", "Lola")
    store.update("photos", loose, status="analyzed")
    with pytest.raises(PhotoUnavailable, match=f"draft {reel} is a Reel"):
        add_photo(store, reel, loose)
    add_photo(store, carousel, loose)  # positive control: the same photo joins a carousel
    assert len(get_draft(store, carousel).media) == 3
