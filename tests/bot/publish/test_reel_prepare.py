"""A Reel draft prepared for posting: its clip staged as a Reel that keeps Instagram's rules, with its cover (the
picture at cover_at, framed as the Reel), both removed with the attempt; a clip that cannot be made fails the draft
with the reason; the cover is the draft's picture wherever a posted copy is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config.reels import ReelsConfig
from bot.drafts.media import first_photo
from bot.publish.errors import BadContent
from bot.publish.prepare import prepare_waiting, prepared_copy, prepared_key, stage_post, staged_files
from bot.video.probe import probe
from bot.video.reelcheck import reel_problems
from bot.video.reelfile import cached_reel
from tests.bot.publish.video_drafts import make_reel_draft

REELS = ReelsConfig(width=360, preset="superfast")


def test_a_reel_draft_is_staged_as_a_reel_and_its_cover(store: Any, tmp_path: Path) -> None:
    draft_id = make_reel_draft(store, seconds=3.0, size=(320, 240), cover_at=2.0)
    folder = tmp_path / "staging"
    post = stage_post(store, draft_id, "Zoomies", "n0nce-1234", ["a dog running"], folder, reels=REELS)
    (medium,) = post.media
    assert medium.kind == "video" and medium.path.suffix == ".mp4" and medium.alt_text == "a dog running"
    assert reel_problems(medium.path) == []
    assert (medium.width, medium.height) == (360, 640) and medium.duration == pytest.approx(3.0, abs=0.05)
    from PIL import Image

    assert medium.cover is not None
    with Image.open(medium.cover) as cover:
        assert cover.format == "JPEG" and cover.size == (360, 640)
    assert staged_files(folder, draft_id, "n0nce-1234") == [medium.path, medium.cover]
    # The kept Reel is what was staged: publishing again links it, never makes it again.
    kept = cached_reel(store.data_dir, store.photo(first_photo(store, draft_id)), REELS)
    assert kept is not None and kept.samefile(medium.path)


def test_the_cover_follows_the_owners_choice(store: Any) -> None:
    draft_id = make_reel_draft(store, seconds=3.0, cover_at=0.2)
    photo_id = first_photo(store, draft_id)
    before_key = prepared_key(store, photo_id, reels=REELS)[0]
    before = prepared_copy(store, photo_id, reels=REELS).read_bytes()
    store.update("photos", photo_id, cover_at=2.5)
    assert prepared_key(store, photo_id, reels=REELS)[0] != before_key
    assert prepared_copy(store, photo_id, reels=REELS).read_bytes() != before
    # The framing of the Reel is the cover's too.
    assert prepared_key(store, photo_id, reels=REELS.model_copy(update={"fit": "pad"}))[0] != before_key


def test_a_clip_too_long_to_post_fails_with_the_reason(store: Any, tmp_path: Path) -> None:
    draft_id = make_reel_draft(store, seconds=4.0, audio=False)
    refuse = ReelsConfig(width=360, preset="superfast", max_seconds=3, too_long="refuse")
    with pytest.raises(BadContent, match=r"clip\.mp4 cannot be made into a Reel: the clip is 4 seconds long"):
        stage_post(store, draft_id, "x", "n0nce-5678", [""], tmp_path / "staging", reels=refuse)
    assert list((tmp_path / "staging").iterdir()) == []


def test_waiting_reel_drafts_get_their_reel_made_ahead(store: Any) -> None:
    draft_id = make_reel_draft(store, seconds=3.0, status="pending")
    photo = store.photo(first_photo(store, draft_id))
    assert cached_reel(store.data_dir, photo, REELS) is None
    assert prepare_waiting(store, reels=REELS) == 1
    made = cached_reel(store.data_dir, photo, REELS)
    assert made is not None and probe(made).width == 360
