"""Captions about a clip, with tiny models: a chat VLM is shown the clip's key frames with the prompt; the describer
describes each key frame and the writer gets their words merged; the same prompts and rules as for photos."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from bot.captions import context
from bot.captions.stage import Captioner, draft_posts
from bot.drafts.actions import get_draft
from bot.drafts.media import media_of
from bot.runtime.ml import Runtime
from bot.store.database import Store
from tests.videos import make_video

from .conftest import ABOUT_THE_PET, caption_config, captioner_models, two_stage_models
from .test_sets import Recorder

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]


def _draw(i: int, count: int, size: tuple[int, int]) -> np.ndarray:
    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = COLOURS[i * len(COLOURS) // count]
    return image


def add_analyzed_clip(store, config, *, cover_at: float, scores: list[float]) -> int:
    """A 3-second clip of Lola as vision leaves it: analyzed, its sampled frames scored, its cover chosen."""
    from bot import timeutil

    library = config.paths.library
    library.mkdir(parents=True, exist_ok=True)
    path = make_video(library / "clip.mp4", seconds=3.0, fps=6, size=(96, 64), audio=False, draw=_draw)
    now = timeutil.iso(timeutil.now())
    times = [3.0 * (i + 0.5) / len(scores) for i in range(len(scores))]
    frames = [{"t": round(t, 3), "score": s, "pets": ["Lola"]} for t, s in zip(times, scores, strict=True)]
    analysis = {"animals": [{"box": [0, 0, 96, 64], "score": 0.9, "label": "dog", "pet": "Lola",
                             "similarity": 0.9}], "unknown": 0, "whole_image": False, "no_animal": False}
    clip = store.insert("photos", sha256=hashlib.sha256(path.read_bytes()).hexdigest(), status="analyzed",
                        source_name="walk.mp4", path=store.relpath(path), format="MP4", width=96, height=64,
                        kind="video", duration_s=3.0, cover_at=cover_at,
                        video=json.dumps({"codec": "h264", "frames": frames}), analysis=json.dumps(analysis),
                        created_at=now, updated_at=now)
    pet = store.insert("pets", name="Lola", species=config.pet("Lola").species, created_at=now)
    store.insert("photo_pets", photo_id=clip, pet_id=pet, confidence=0.9, box="[0, 0, 96, 64]", source="model")
    return clip


def _setup(tmp_path, models):
    config = caption_config(tmp_path / "pawpost", models, captions=ABOUT_THE_PET)
    return config, Store.for_config(config), Captioner(config, Runtime("cpu"))


def _colour(image) -> tuple[int, int, int]:
    return tuple(round(float(v)) for v in np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)))


def _near(a, b) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) < 12


def test_key_frames_are_the_cover_and_the_best_other_frames_in_time_order(tmp_path, tiny_vlm) -> None:
    config, store, _ = _setup(tmp_path, captioner_models(tiny_vlm))
    # Six sampled frames (0.25 s, 0.75 s, ... 2.75 s); the cover at 1.25 s, the best others at 2.75, 0.25 and 2.25.
    clip = add_analyzed_clip(store, config, cover_at=1.25, scores=[0.8, 0.1, 0.5, 0.2, 0.6, 0.9])
    row = store.photo(clip)
    frames = context.key_frames(store.abspath(row["path"]), row)
    assert [t for t, _ in frames] == [0.25, 1.25, 2.25, 2.75]
    assert [_near(_colour(image), COLOURS[int(t * 2)]) for t, image in frames] == [True] * 4


def test_a_chat_vlm_is_shown_the_clips_key_frames(tmp_path, tiny_vlm) -> None:
    config, store, captioner = _setup(tmp_path, captioner_models(tiny_vlm))
    clip = add_analyzed_clip(store, config, cover_at=0.75, scores=[0.1, 0.9, 0.2, 0.3, 0.4, 0.5])
    captioner.vlm.load()
    processor = Recorder(captioner.vlm, "processor")
    assert draft_posts(store, config, captioner, [[clip]]) == 1
    (_args, kwargs), *_ = processor.calls
    [shown] = kwargs["images"]
    row = store.photo(clip)
    expected = context.key_frames(store.abspath(row["path"]), row)
    assert len(shown) == context.MAX_SET_IMAGES == len(expected)
    assert [_colour(im) for im in shown] == [_colour(im) for _, im in expected]
    text = kwargs["text"][0]
    assert text.count("<image>") == context.MAX_SET_IMAGES and "carousel" not in text  # one post, not a set
    # The prompt speaks of the video and its frames, never of a photo.
    assert "short video" in text and "caption for this video" in text and "photo" not in text
    draft_id = store.value("SELECT id FROM drafts")
    [medium] = media_of(store, draft_id)
    assert medium.kind == "video" and store.photo(clip)["status"] == "drafted"


def test_the_describer_describes_each_key_frame_and_the_writer_gets_the_merged_words(tmp_path, tiny_blip,
                                                                                     scripted_writer) -> None:
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_writer))
    clip = add_analyzed_clip(store, config, cover_at=1.25, scores=[0.1, 0.2, 0.9, 0.3, 0.4, 0.5])
    captioner.describer.load()
    captioner.writer.load()
    described = Recorder(captioner.describer, "describe")
    written = Recorder(captioner.writer, "prompt_texts")
    assert draft_posts(store, config, captioner, [[clip]]) == 1
    [(args, _)] = described.calls
    assert len(args[0]) == context.MAX_SET_IMAGES  # every key frame described
    words = [captioner.describer.describe([image])[0] for image in args[0]]
    draft_id = store.value("SELECT id FROM drafts")
    [medium] = media_of(store, draft_id)
    assert medium.description == context.merge_facts(words)  # the clip's medium keeps the frames' words merged
    (prompts,), _ = written.calls[0]
    assert prompts[0].scene == medium.description.rstrip(".")
    assert "what the video shows" in prompts[0].user and "photo" not in prompts[0].user
    draft = get_draft(store, draft_id)
    assert draft.caption is not None and draft.caption.startswith("Lola"), draft.note
    assert draft.kind == "video" and draft.cover_at == 1.25 and draft.duration_s == 3.0
