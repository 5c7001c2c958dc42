"""Seeing a clip: its frames through the same vision as photos, a pet counted when seen in enough frames, the
sharpest frame where the pet shows best as the cover, and every sampled frame recorded."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import ImageFilter

from bot import timeutil
from bot.vision.analyze import analyze_new
from bot.vision.identify import Animal, PhotoAnalysis
from bot.vision.video import PET_SHARE, counted_pets
from tests import tiny_vision
from tests.bot.vision.conftest import open_home
from tests.videos import make_video

SIZE = (192, 160)


def _looks(schedule: list[str], sharp: int | None):
    """draw() for make_video: frame i shows the look of its part of the clip; all but the `sharp` part blurred."""
    def draw(i: int, count: int, size: tuple[int, int]) -> np.ndarray:
        part = min(len(schedule) - 1, i * len(schedule) // count)
        image = tiny_vision.pet_photo(schedule[part], part, size)
        if part != sharp:
            image = image.filter(ImageFilter.GaussianBlur(3))
        return np.asarray(image)
    return draw


def add_clip(store, path, name: str) -> int:
    from bot.video.probe import probe

    info = probe(path)
    data = path.read_bytes()
    target = store.data_dir / "library" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    now = timeutil.iso(timeutil.now())
    return store.insert("photos", sha256=hashlib.sha256(data).hexdigest(), status="new", source_name=name,
                        path=f"library/{name}", format=info.format, width=info.width, height=info.height,
                        size_bytes=len(data), created_at=now, updated_at=now, kind="video",
                        duration_s=info.duration_s, video=json.dumps(info.facts()))


def test_a_clip_is_seen_across_its_frames(vision_home, tmp_path) -> None:
    config, store, vision = open_home(vision_home(batch_size=3))
    # Eight parts: Lola (red) in seven, Pico (blue) only in the last (1 of 8 sampled frames: under PET_SHARE);
    # the fifth part sharp, the rest blurred.
    schedule = ["red"] * 7 + ["blue"]
    clip = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=8, size=SIZE, audio=False,
                      draw=_looks(schedule, sharp=4))
    clip_id = add_clip(store, clip, "clip.mp4")
    assert analyze_new(store, config, vision) == 1
    row = store.photo(clip_id)
    assert row["status"] == "analyzed"
    pets = store.all("SELECT pets.name FROM photo_pets pp JOIN pets ON pets.id = pp.pet_id WHERE photo_id = ?",
                     (clip_id,))
    assert [r["name"] for r in pets] == ["Lola"]
    facts = json.loads(row["video"])
    frames = facts["frames"]
    assert len(frames) == config.ingest.video_frames == 8
    assert [f["t"] for f in frames] == sorted(f["t"] for f in frames)
    assert frames[-1]["pets"] == ["Pico"] and all(f["pets"] == ["Lola"] for f in frames[:7])
    # The cover: the sharp part (1.0 s to 1.25 s), where the sampled frame scored best.
    assert 1.0 <= row["cover_at"] < 1.25
    best = max(frames, key=lambda f: f["score"])
    assert best["t"] == pytest.approx(row["cover_at"]) and row["shot_score"] == pytest.approx(best["score"])
    assert facts["codec"] == "h264" and facts["audio"] is None  # the file's facts are kept
    analysis = json.loads(row["analysis"])
    assert [a["pet"] for a in analysis["animals"]] == ["Lola"]
    assert analysis["animals"][0]["box"] == [0.0, 0.0, float(SIZE[0]), float(SIZE[1])]


def _frame(*pets: tuple[str, float]) -> PhotoAnalysis:
    return PhotoAnalysis([Animal([0, 0, 1, 1], 0.9, "dog", name, 0.8, c) for name, c in pets], False, False, 1, 1)


def test_a_pet_counts_when_seen_in_enough_frames() -> None:
    assert PET_SHARE == 0.25
    frames = [_frame(("Lola", 0.9)), _frame(("Lola", 0.7), ("Pico", 0.8)), _frame(), _frame(), _frame(),
              _frame(), _frame(), _frame(("Pico", 0.6))]
    assert counted_pets(frames) == {"Lola": pytest.approx(0.8), "Pico": pytest.approx(0.7)}
    assert counted_pets(frames[:7]) == {"Lola": pytest.approx(0.8)}  # Pico in 1 of 7: under a quarter
    assert counted_pets([_frame(("Pico", 0.5))]) == {"Pico": 0.5}  # one frame: seen once is enough
