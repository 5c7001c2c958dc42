"""A posted carousel in retraining: one example, its caption once, with the pets and facts of all its photos."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.drafts.media import add_draft
from tests.rows import START, add_posted, make_photo, tag_pet
from tests.training.conftest import retrain_sections

CAROUSEL_CAPTION = "Lola and Pico share the blanket. #chihuahua"


def _add_carousel(store, at=START + timedelta(days=10)):
    """A posted carousel of three photos: Lola, then Pico with a cat nearby, then Lola again."""
    photos = [make_photo(store, f"set-{i}", 100 + i) for i in range(3)]
    tag_pet(store, photos[0], "Lola")
    tag_pet(store, photos[1], "Pico")
    tag_pet(store, photos[2], "Lola")
    store.update("photos", photos[1], analysis=json.dumps(
        {"animals": [{"label": "cat", "pet": None}], "no_animal": False}))
    iso = at.isoformat()
    draft_id = add_draft(store, photos, status="posted", caption=CAROUSEL_CAPTION, posted_at=iso, media_id="set1",
                         media_code="SET1", created_at=iso, updated_at=iso)
    return draft_id, photos


def test_a_carousel_is_one_example_with_every_photos_pets_and_scene(store):
    add_posted(store, "Pico met the rain today", START, "Pico")
    draft_id, photos = _add_carousel(store)
    from training.dataset import collect

    examples, dropped = collect(store, need_photo=True)
    assert len(examples) == 2 and dropped == {"empty": 0, "duplicate": 0, "no_photo": 0}
    carousel = next(e for e in examples if e.key == f"draft:{draft_id}")
    assert [e.caption for e in examples].count("Lola and Pico share the blanket.") == 1  # its caption once
    assert carousel.pets == ["Lola", "Pico"]  # every pet of the set, the first photo's first, each once
    assert carousel.photo_ids == photos and carousel.photo_id == photos[0]
    assert [p.name for p in carousel.photos] == ["set-0.jpg", "set-1.jpg", "set-2.jpg"]
    assert carousel.scene and "a cat" in carousel.scene  # what vision found in the second photo
    single = next(e for e in examples if e is not carousel)
    assert single.pets == ["Pico"] and len(single.photos) == 1 and single.scene is None


def test_a_carousel_photo_whose_file_is_gone_is_left_out_not_the_post(store):
    _draft_id, photos = _add_carousel(store)
    store.abspath(store.photo(photos[1])["path"]).unlink()
    from training.dataset import collect

    (example,), _ = collect(store, need_photo=True)
    assert example.photo_ids == [photos[0], photos[2]]
    assert example.pets == ["Lola", "Pico"]  # Pico was recognised there; the caption is still about the set


def test_training_prompts_and_samples_cover_the_whole_set(make_home, writer_models, vlm_models, monkeypatch):
    from bot.captions.context import merge_facts
    from bot.runtime.ml import Runtime
    from training import dataset
    from training.backend import Backend
    from training.prompts import Prompts, describe, sample_for

    config, store = make_home(retrain_sections(writer_models))
    add_posted(store, "Pico met the rain today", START, "Pico")
    draft_id, _photos = _add_carousel(store)
    examples, _ = dataset.collect(store, need_photo=True)
    carousel = next(e for e in examples if e.key == f"draft:{draft_id}")

    from bot.captions.backends import Describer
    from bot.captions.context import caption_image

    seen: list[int] = []
    real = Describer.describe

    def counting(self, images):
        seen.append(len(images))
        return real(self, images)

    monkeypatch.setattr(Describer, "describe", counting)
    runtime = Runtime("cpu", "float32")
    descriptions = describe(config, runtime, examples)
    assert sum(seen) == 4  # the single post's photo and each of the carousel's three
    # The carousel's description is its photos' own words, merged in post order.
    own = Describer(config.models.describer, runtime).describe([caption_image(p) for p in carousel.photos])
    assert descriptions[carousel.key] == merge_facts(own)

    prompt = Prompts(store, config, examples, descriptions)(carousel)
    assert "carousel of 3 photos" in prompt.user and "Mention Lola and Pico by name." in prompt.user
    assert prompt.photos == 3 and prompt.images == 3

    vlm_config, vlm_store = make_home(retrain_sections(vlm_models), name="vlm")
    backend = Backend("vlm", vlm_config.models.captioner, Runtime("cpu", "float32"))
    backend.load()
    sample = sample_for(backend, Prompts(store, vlm_config, examples, {}), carousel)
    assert sample.images == carousel.photos  # the VLM learns from every photo of the set
    encoded = backend.encode_prompt(sample)
    assert sample.prompt.count("<image>") == 3
    single = backend.encode_prompt(sample_for(backend, Prompts(store, vlm_config, examples, {}),
                                              next(e for e in examples if e is not carousel)))
    assert encoded["input_ids"].shape[1] > single["input_ids"].shape[1]  # three photos' image tokens, not one
    backend.unload()
    vlm_store.close()


def test_evaluation_writes_a_carousels_caption_from_all_its_photos(make_home, writer_models):
    from bot.runtime.ml import Runtime
    from training import dataset
    from training.gate import write_holdout

    config, store = make_home(retrain_sections(writer_models))
    _draft_id, _photos = _add_carousel(store)
    examples, _ = dataset.collect(store, need_photo=True)
    written = write_holdout(store, config, Runtime("cpu", "float32"), examples, adapter_dir=None, style_examples=0)
    (prompt,) = written.prompts
    assert "carousel of 3 photos" in prompt and "Mention Lola and Pico by name." in prompt


def test_a_carousel_sample_trains_on_the_speed_path_with_the_same_loss(tmp_path, vlm_models):
    """Image features reused for a sample of three photos give the loss the model gives with their pixels."""
    import pytest
    import torch

    from bot.captions.prompt import build_prompt
    from bot.config import Config
    from bot.runtime.ml import Runtime
    from tests.training.conftest import PETS
    from tests.training.test_speed import per_example_loss, photo
    from training.backend import Backend, Sample

    config = Config(pets=PETS)
    backend = Backend("vlm", vlm_models["captioner"], Runtime("cpu", "float32"))
    backend.load()
    carousel = build_prompt(config, ["Lola", "Pico"], scene="a dog on a sofa; a puppy in the garden", photos=3,
                            images=3)
    single = build_prompt(config, ["Lola"], scene="a dog on a sofa")
    samples = [Sample("set", backend.render(carousel), "Lola and Pico nap.", image=photo(tmp_path, 0),
                      others=[photo(tmp_path, 1), photo(tmp_path, 2)]),
               Sample("one", backend.render(single), "Lola naps.", image=photo(tmp_path, 3))]
    encoded = [backend.encode(s) for s in samples]
    assert int((encoded[0]["input_ids"] == backend.caption_model.model.config.image_token_id).sum()) > \
        2 * int((encoded[1]["input_ids"] == backend.caption_model.model.config.image_token_id).sum())
    backend.model.eval()
    expected = per_example_loss(backend, encoded)
    features = [backend.image_features(e) for e in encoded]
    n_tokens = sum(int((e["labels"] != -100).sum()) for e in encoded)
    (batch,) = backend.collate(encoded, features)
    with torch.no_grad():
        got = float(backend.loss(dict(batch), n_tokens))
    assert got == pytest.approx(expected, rel=1e-4)
    backend.unload()
