"""probe(): each kind of phone clip read right from its headers, and each broken file refused with its reason."""

from __future__ import annotations

import random

import pytest

from bot.errors import BadVideo
from bot.video.probe import probe
from tests.videos import hevc_available, make_video


def test_an_h264_clip_with_sound(tmp_path) -> None:
    info = probe(make_video(tmp_path / "a.mp4", seconds=2.0, fps=30, size=(320, 240)))
    assert (info.width, info.height, info.coded_width, info.coded_height) == (320, 240, 320, 240)
    assert info.codec == "h264" and info.format == "MP4" and info.rotation == 0
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and info.fps == pytest.approx(30)
    assert info.vfr is False and info.pix_fmt == "yuv420p"
    assert info.audio is not None and (info.audio.codec, info.audio.rate, info.audio.channels) == ("aac", 48000, 2)
    assert info.content_id is None


@pytest.mark.skipif(not hevc_available(), reason="this PyAV build has no HEVC encoder")
def test_an_hevc_clip_in_a_mov(tmp_path) -> None:
    info = probe(make_video(tmp_path / "IMG_0001.MOV", codec="hevc", seconds=1.0))
    assert info.codec == "hevc" and info.format == "MOV" and info.profile == "Main"


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_gives_the_size_as_shown(tmp_path, rotation) -> None:
    info = probe(make_video(tmp_path / "r.mp4", rotation=rotation, seconds=0.5, size=(320, 240)))
    assert info.rotation == rotation
    assert (info.coded_width, info.coded_height) == (320, 240)
    assert (info.width, info.height) == ((240, 320) if rotation in (90, 270) else (320, 240))


def test_uneven_frame_steps_are_a_variable_frame_rate(tmp_path) -> None:
    assert probe(make_video(tmp_path / "v.mp4", vfr=True, seconds=1.0)).vfr is True
    assert probe(make_video(tmp_path / "c.mp4", vfr=False, seconds=1.0)).vfr is False


def test_a_silent_clip_has_no_audio(tmp_path) -> None:
    assert probe(make_video(tmp_path / "s.mp4", audio=False, seconds=0.5)).audio is None


def test_a_four_minute_clip_is_read_from_its_index(tmp_path) -> None:
    info = probe(make_video(tmp_path / "long.mp4", seconds=240, fps=2, size=(64, 48), audio=False))
    assert info.duration_s == pytest.approx(240, abs=1)


def test_a_live_photo_motion_clip_carries_its_content_identifier(tmp_path) -> None:
    info = probe(make_video(tmp_path / "IMG_0002.MOV", content_id="4F1C-LIVE", seconds=0.5))
    assert info.content_id == "4F1C-LIVE" and info.format == "MOV"
    assert info.facts()["audio"] == {"codec": "aac", "rate": 48000, "channels": 2}


def _refused(path) -> str:
    with pytest.raises(BadVideo) as caught:
        probe(path)
    reason = caught.value.reason
    assert "\n" not in reason and str(path) not in reason
    return reason


def test_broken_files_are_refused_with_a_one_line_reason(tmp_path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in _refused(empty)

    noise = tmp_path / "noise.mp4"
    noise.write_bytes(random.Random(7).randbytes(50_000))  # fixed: some random bytes probe as audio only
    assert "not a readable video" in _refused(noise)

    # Index at the end (as the muxer writes by default): cut short, the index is gone.
    whole = make_video(tmp_path / "whole.mp4", seconds=1.0).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    assert "not a readable video" in _refused(cut)

    # Index first: it opens, but the frames it lists run past the end of the file.
    whole = make_video(tmp_path / "fast.mp4", seconds=1.0, faststart=True).read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    assert "cut short" in _refused(cut)

    assert "cannot be read" in _refused(tmp_path / "missing.mp4")


def test_sound_alone_is_not_a_video(tmp_path) -> None:
    import av

    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        import numpy as np

        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    assert "no video stream" in _refused(path)
