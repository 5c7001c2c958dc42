"""Making a Reel: real clips (tests/videos.py) made into 9:16 H.264/AAC MP4s that pass Instagram's rules read back
from the file; rotated, variable-rate, silent and HEVC clips; too long ones trimmed to their best part or refused;
the made file kept and made again only when what it depends on changes.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from bot.config.reels import ReelsConfig
from bot.errors import CannotMakeReel
from bot.video.probe import probe
from bot.video.reelcheck import reel_problems
from bot.video.reelfile import cached_reel, ensure_reel, write_cover
from bot.video.reelplan import best_window, geometry, plan_reel, reel_rate
from bot.video.transcode import make_reel, reel_picture, upright_size
from tests.videos import hevc_available, make_video

SMALL = ReelsConfig(width=360, preset="superfast")


def _row(data: Path, clip: Path, photo_id: int = 7, **video: Any) -> dict[str, Any]:
    info = probe(clip)
    return {"id": photo_id, "path": clip.relative_to(data).as_posix(), "sha256": clip.name, "width": info.width,
            "height": info.height, "duration_s": info.duration_s, "cover_at": None,
            "video": json.dumps({"fps": info.fps, "rotation": info.rotation, **video})}


def _make(clip: Path, dest: Path, settings: ReelsConfig = SMALL, **kw: Any) -> Any:
    w, h, duration, fps = upright_size(clip)
    return make_reel(clip, dest, plan_reel((w, h), duration, fps, settings, **kw))


def test_a_phone_clip_becomes_a_reel_that_keeps_instagrams_rules(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=3.5, size=(320, 240))
    assert reel_problems(clip)  # as a camera writes it: moov at the end, and landscape
    made = _make(clip, tmp_path / "reel.mp4")
    assert reel_problems(made.path) == []
    info = probe(made.path)
    assert (info.width, info.height) == (360, 640)
    assert info.codec == "h264" and info.profile == "High" and info.pix_fmt == "yuv420p"
    assert info.fps == 30 and not info.vfr
    assert info.audio is not None and (info.audio.codec, info.audio.rate) == ("aac", 48000)
    assert info.duration_s == pytest.approx(3.5, abs=0.05)


def test_a_rotated_variable_rate_silent_clip_is_made_upright_at_a_constant_rate(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "turned.mov", size=(320, 240), rotation=90, vfr=True, audio=False, fps=30)
    assert probe(clip).vfr
    made = _make(clip, tmp_path / "reel.mp4", ReelsConfig(width=360, preset="superfast", fit="pad"))
    info = probe(made.path)
    assert reel_problems(made.path) == []
    assert info.audio is None and not info.vfr and info.rotation == 0
    # Padded whole: the upright 240x320 picture fills the width. The clip's stored top-left black corner
    # (tests/videos.picture), turned a quarter counter-clockwise, is at the bottom left, just above the padding.
    picture = reel_picture(made.path, geometry((360, 640), "crop", 360), 0.5)
    bottom = (640 + 480) // 2
    assert _dark(picture, (4, bottom - 4)) and not _dark(picture, (355, bottom - 4))
    assert not _dark(picture, (4, bottom - 480 + 4)) and _dark(picture, (4, bottom - 480 - 4))
    assert info.duration_s == pytest.approx(3.0, abs=0.05)  # a 2-second clip is held to Instagram's 3 s


@pytest.mark.skipif(not hevc_available(), reason="this PyAV build has no HEVC encoder")
def test_an_hevc_clip_is_made_into_h264(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "hevc.mov", codec="hevc", seconds=3.0, size=(240, 320))
    made = _make(clip, tmp_path / "reel.mp4")
    assert probe(made.path).codec == "h264"
    assert reel_problems(made.path) == []


def test_the_rules_check_names_each_broken_rule(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "short.mp4", seconds=1.0, fps=20, size=(2000, 200), audio=False)
    problems = " | ".join(reel_problems(clip))
    assert "moov box comes after the media data" in problems
    assert "20 frames a second" in problems
    assert "2000 px wide" in problems
    assert "seconds is outside 3-900" in problems
    assert reel_problems(tmp_path / "missing.mp4")[0].startswith("not a readable video")


def test_an_edit_list_is_found(tmp_path: Path) -> None:
    import av

    clip = make_video(tmp_path / "clip.mp4", seconds=3.0)
    edited = tmp_path / "edited.mp4"
    with av.open(str(clip)) as src, av.open(str(edited), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    assert "it has an edit list" in reel_problems(edited)


def test_a_landscape_clip_is_cut_to_keep_the_pet_in_frame() -> None:
    left = geometry((1920, 1080), "crop", 1080, [(1500, 300, 1800, 900)])
    x0, _, x1, _ = left.crop
    assert x0 <= 1500 and x1 >= 1800 and (x1 - x0) == 607
    assert left.size == (1080, 1920) and left.scaled == (1080, 1920)
    centred = geometry((1920, 1080), "crop", 1080)
    assert centred.crop[0] == (1920 - 607) // 2
    padded = geometry((1920, 1080), "pad", 1080)
    assert padded.crop == (0, 0, 1920, 1080) and padded.scaled == (1080, 608) and padded.offset == (0, 656)
    assert geometry((320, 240), "crop", 1080).size == (1080, 1920)  # every Reel at the size Instagram shows


def test_the_frame_rate_is_a_cameras_within_instagrams_limits() -> None:
    assert reel_rate(29.97) == pytest.approx(30000 / 1001)
    assert reel_rate(29.4) == Fraction(30000, 1001)  # a variable-rate phone clip's average
    assert reel_rate(120) == 60 and reel_rate(15) == 23 and reel_rate(None) == 30


def test_the_best_window_of_a_long_clip_is_where_the_frames_score_best() -> None:
    frames = [{"t": t, "score": 0.9 if 40 <= t < 70 else 0.2} for t in range(0, 200, 5)]
    assert best_window(frames, 200, 30) == 40
    assert best_window([], 200, 30) == 0
    assert best_window([{"t": 195, "score": 1.0}], 200, 30) == 170  # never past the end


def test_too_long_is_trimmed_or_refused_as_the_owner_chose() -> None:
    frames = [{"t": t, "score": 1.0 if t >= 100 else 0.1} for t in range(0, 240, 10)]
    plan = plan_reel((1080, 1920), 240, 30, ReelsConfig(max_seconds=60), frames=frames)
    assert (plan.start, plan.end) == (100, 160)
    with pytest.raises(CannotMakeReel, match="240 seconds long; Reels are made of at most 60"):
        plan_reel((1080, 1920), 240, 30, ReelsConfig(max_seconds=60, too_long="refuse"), frames=frames)


def test_a_trimmed_reel_is_its_best_window(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "long.mp4", seconds=6.0, size=(240, 320), fps=24)
    data = tmp_path
    frames = [{"t": t, "score": 1.0 if t >= 3 else 0.1} for t in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)]
    row = _row(data, clip, frames=frames)
    path = ensure_reel(data, row, ReelsConfig(width=360, preset="superfast", max_seconds=3))
    info = probe(path)
    assert info.duration_s == pytest.approx(3.0, abs=0.05) and info.fps == 24
    assert info.audio is not None
    # Its first picture is the clip's at 3 s (the hue of tests/videos.picture turns over the clip).
    geo = geometry((240, 320), "crop", 360)
    assert _close(reel_picture(path, geometry((360, 640), "crop", 360), 0.0), reel_picture(clip, geo, 3.0))
    assert not _close(reel_picture(path, geometry((360, 640), "crop", 360), 0.0), reel_picture(clip, geo, 0.0))


def test_a_reel_is_kept_and_made_again_only_when_it_would_change(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    clip = make_video(tmp_path / "library" / "clip.mp4", seconds=3.0)
    row = _row(tmp_path, clip)
    calls: list[tuple[float, float]] = []
    path = ensure_reel(tmp_path, row, SMALL, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == pytest.approx(3.0, abs=0.05)
    assert cached_reel(tmp_path, row, SMALL) == path
    stamp = path.stat().st_mtime_ns
    assert ensure_reel(tmp_path, {**row, "cover_at": 1.5}, SMALL) == path  # the cover is not part of it
    assert path.stat().st_mtime_ns == stamp
    padded = ensure_reel(tmp_path, row, SMALL.model_copy(update={"fit": "pad"}))
    assert padded != path and padded.is_file() and not path.is_file()
    assert sorted(p.name for p in padded.parent.iterdir()) == [padded.name]  # no temp file left behind


def test_a_clip_that_cannot_be_made_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    row = {"id": 1, "path": "broken.mp4", "sha256": "x", "width": 0, "height": 0, "duration_s": None,
           "cover_at": None, "video": None}
    with pytest.raises(CannotMakeReel, match="cannot be read"):
        ensure_reel(tmp_path, row, SMALL)
    with pytest.raises(CannotMakeReel, match="missing from the library"):
        ensure_reel(tmp_path, {**row, "path": "gone.mp4"}, SMALL)
    assert not (tmp_path / "reels").exists() or not list((tmp_path / "reels").iterdir())


def test_the_cover_is_the_chosen_picture_framed_as_the_reel(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=3.0, size=(320, 240))
    row = {**_row(tmp_path, clip), "cover_at": 2.0}
    size = write_cover(tmp_path, row, SMALL, tmp_path / "cover.jpg")
    assert size == (360, 640)
    from PIL import Image

    with Image.open(tmp_path / "cover.jpg") as im:
        cover = im.convert("RGB")
    geo = geometry((320, 240), "crop", 360)
    assert _close(cover, reel_picture(clip, geo, 2.0)) and not _close(cover, reel_picture(clip, geo, 0.0))


def _dark(picture: Any, xy: tuple[int, int]) -> bool:
    return sum(picture.convert("RGB").getpixel(xy)) < 60


def _close(a: Any, b: Any) -> bool:
    from PIL import ImageChops, ImageStat

    diff = ImageChops.difference(a.convert("RGB").resize((36, 64)), b.convert("RGB").resize((36, 64)))
    return max(ImageStat.Stat(diff).mean) < 12
