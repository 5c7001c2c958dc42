"""sample_frames() and frame_at(): the right pictures, upright, spread across the clip, from even and uneven clips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bot.video.frames import frame_at, sample_frames, sample_times, upright
from tests.videos import frame_times, make_video, picture

SIZE = (160, 120)


def _distance(image: Image.Image, expected: np.ndarray) -> float:
    return float(np.abs(np.asarray(image, dtype=np.int16) - expected.astype(np.int16)).mean())


def _closest(image: Image.Image, count: int) -> int:
    """Which of the clip's `count` drawn pictures `image` is (the encoder blurs, so the nearest one)."""
    return min(range(count), key=lambda i: _distance(image, picture(i, count, SIZE)))


def test_frame_at_gives_the_frame_on_screen_then(tmp_path) -> None:
    clip = make_video(tmp_path / "c.mp4", seconds=1.0, fps=10, size=SIZE, audio=False)
    assert _closest(frame_at(clip, 0.0), 10) == 0
    assert _closest(frame_at(clip, 0.35), 10) == 3  # frame 3 shows from 0.3 s to 0.4 s
    assert _closest(frame_at(clip, 0.4), 10) == 4
    assert _closest(frame_at(clip, 5.0), 10) == 9  # past the end: the last frame


def test_sample_frames_are_spread_across_the_clip(tmp_path) -> None:
    clip = make_video(tmp_path / "c.mp4", seconds=2.0, fps=10, size=SIZE, audio=False)
    frames = list(sample_frames(clip, 4))
    assert [t for t, _ in frames] == pytest.approx([0.2, 0.7, 1.2, 1.7])
    assert [_closest(image, 20) for _, image in frames] == [2, 7, 12, 17]
    assert all(image.mode == "RGB" and image.size == SIZE for _, image in frames)


def test_a_clip_shorter_than_the_samples_gives_each_frame_once(tmp_path) -> None:
    clip = make_video(tmp_path / "c.mp4", seconds=0.3, fps=10, size=SIZE, audio=False)
    frames = list(sample_frames(clip, 8))
    assert [_closest(image, 3) for _, image in frames] == [0, 1, 2]


def test_uneven_frames_are_found_by_their_own_times(tmp_path) -> None:
    times = frame_times(1.0, 10, vfr=True)
    clip = make_video(tmp_path / "v.mp4", seconds=1.0, fps=10, size=SIZE, vfr=True, audio=False)
    for wanted in (0.1, 0.42, 0.9):
        shown = max(i for i, t in enumerate(times) if t <= wanted + 1e-9)
        assert _closest(frame_at(clip, wanted), len(times)) == shown
    sampled = [t for t, _ in sample_frames(clip, 3)]
    assert sampled == pytest.approx([max(t for t in times if t <= w + 1e-9) for w in sample_times(1.0, 3)], abs=1e-3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_frames_of_a_rotated_clip_come_upright(tmp_path, rotation) -> None:
    plain = make_video(tmp_path / "p.mp4", seconds=0.5, fps=10, size=SIZE, audio=False)
    turned = make_video(tmp_path / "t.mp4", seconds=0.5, fps=10, size=SIZE, audio=False, rotation=rotation)
    expected = upright(frame_at(plain, 0.25), rotation)
    got = frame_at(turned, 0.25)
    assert got.size == expected.size
    assert _distance(got, np.asarray(expected)) < 3
    assert _distance(got, np.asarray(upright(frame_at(plain, 0.25), (rotation + 180) % 360).resize(got.size))) > 10
    assert [image.size for _, image in sample_frames(turned, 2)] == [expected.size] * 2


def test_max_side_scales_pictures_down(tmp_path) -> None:
    clip = make_video(tmp_path / "c.mp4", seconds=0.5, fps=10, size=(320, 240), rotation=90, audio=False)
    assert frame_at(clip, 0.1, max_side=80).size == (60, 80)
    assert [image.size for _, image in sample_frames(clip, 1, max_side=80)] == [(60, 80)]
