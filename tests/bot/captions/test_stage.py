"""The caption stage end to end with tiny models: prompt -> generate -> rules -> rank -> draft."""

from __future__ import annotations

import pytest

from bot.captions.rules import RuleContext, check_candidate
from bot.captions.stage import Captioner, draft_analyzed
from bot.drafts.actions import edit, get_draft
from bot.drafts.media import draft_of_photo
from bot.drafts.regenerate import regenerate
from bot.runtime.ml import Runtime
from bot.store.database import Store
from tests.tiny_captions import SCRIPTED_CAPTIONS

from .conftest import (
    ABOUT_THE_PET,
    add_analyzed_photo,
    add_past_caption,
    caption_config,
    captioner_models,
    two_stage_models,
)


def _setup(tmp_path, models, **kw):
    config = caption_config(tmp_path / "pawpost", models, **kw)
    store = Store.for_config(config)
    return config, store, Captioner(config, Runtime("cpu"))


def _candidates(store, draft_id, generation=0):
    return store.all("SELECT * FROM candidates WHERE draft_id = ? AND generation = ? ORDER BY position",
                     (draft_id, generation))


def _assert_recorded(store, config, draft, rounds_max):
    """A draft has either a caption that passes every rule, or a note and no caption; all is recorded."""
    row = store.draft(draft.id)
    cands = _candidates(store, draft.id)
    assert cands, "every candidate is kept"
    assert row["prompt"] and row["seed"] is not None
    assert config.captions.seed <= row["seed"] < config.captions.seed + rounds_max
    for c in cands:
        assert c["passed"] in (0, 1)
        assert c["passed"] or c["reason"], "a refused candidate says why"
    if draft.caption is not None:
        assert cands[0]["passed"] == 1 and cands[0]["text"] == draft.caption
        assert row["chosen"] == 0 and row["note"] is None
        assert check_candidate(draft.caption, RuleContext(max_hashtags=config.captions.max_hashtags)).passed
        passed = [c for c in cands if c["passed"]]
        assert [c["score"] for c in passed] == sorted((c["score"] for c in passed), reverse=True)
    else:
        assert not any(c["passed"] for c in cands)
        assert "No caption passed the rules" in row["note"] and f"drafts approve {draft.id}" in row["note"]
        # It gave up only after every round.
        assert len(cands) >= 1 and row["seed"] == config.captions.seed + config.captions.max_attempts - 1


@pytest.mark.parametrize("backend", ["vlm", "two_stage", "plain_writer"])
def test_analyzed_photos_become_drafts(tmp_path, backend, tiny_vlm, tiny_blip, tiny_writer, tiny_plain_writer):
    models = {"vlm": captioner_models(tiny_vlm), "two_stage": two_stage_models(tiny_blip, tiny_writer),
              "plain_writer": two_stage_models(tiny_blip, tiny_plain_writer)}[backend]
    config, store, captioner = _setup(tmp_path, models)
    first = add_analyzed_photo(store, config, {"Lola": 0.95}, hint="her first snow")
    second = add_analyzed_photo(store, config, {}, color=(20, 40, 200))
    assert draft_analyzed(store, config, captioner) == 2
    assert store.counts()["photos"]["drafted"] == 2
    for photo_id in (first, second):
        draft_id = draft_of_photo(store, photo_id)
        draft = get_draft(store, draft_id)
        assert draft.status == "pending"  # approval.mode = manual
        _assert_recorded(store, config, draft, config.captions.max_attempts)
    lola = get_draft(store, draft_of_photo(store, first))
    prompt = store.draft(lola.id)["prompt"]
    assert "her first snow" in prompt and "captions for Lola, a dog," in prompt and lola.hint == "her first snow"
    assert lola.pets == ["Lola"] and lola.confidence == 0.95
    if backend != "vlm":
        assert "what the photo shows: " in prompt  # the describer's words reach the writer
    # Nothing is left to do.
    assert draft_analyzed(store, config, captioner) == 0


@pytest.mark.parametrize("backend", ["vlm", "two_stage"])
def test_a_passing_caption_is_ranked_and_chosen(tmp_path, backend, tiny_blip, scripted_writer, scripted_vlm):
    models = captioner_models(scripted_vlm) if backend == "vlm" else two_stage_models(tiny_blip, scripted_writer)
    config, store, captioner = _setup(tmp_path, models, captions={"candidates": 4, **ABOUT_THE_PET})
    add_past_caption(store, config, "Lola loves treats!! #chihuahua", sha="past")
    photo = add_analyzed_photo(store, config, {"Lola": 0.9})
    assert draft_analyzed(store, config, captioner) == 1
    draft = get_draft(store, draft_of_photo(store, photo))
    assert draft.caption is not None, draft.note
    assert draft.caption.startswith("Lola")
    # The pet's and the account's hashtags, no more than allowed.
    assert draft.caption.endswith("#lolathechihuahua #chihuahua #rescuedog")
    # The past caption is both a style example and a caption that must not be copied.
    assert "Lola loves treats!!" in store.draft(draft.id)["prompt"]
    assert draft.caption.split("\n")[0] in SCRIPTED_CAPTIONS
    assert all(c.split("\n")[0] in ("Lola naps on her blanket.", "Lola says good morning!") for c in draft.candidates)
    for c in draft.rejected_candidates:
        assert c["text"].startswith("Lola loves treats.") and c["reason"].startswith("it is a near-copy")


def test_approval_modes(tmp_path, tiny_blip, scripted_writer):
    models = two_stage_models(tiny_blip, scripted_writer)
    results = {}
    for mode in ("manual", "auto", "confident"):
        config, store, captioner = _setup(tmp_path / mode, models, captions=ABOUT_THE_PET,
                                          approval={"mode": mode, "min_confidence": 0.8})
        sure = add_analyzed_photo(store, config, {"Lola": 0.93})
        unsure = add_analyzed_photo(store, config, {"Lola": 0.55}, color=(10, 200, 10))
        nobody = add_analyzed_photo(store, config, {}, color=(200, 10, 10))
        draft_analyzed(store, config, captioner)
        results[mode] = {}
        for name, photo in (("sure", sure), ("unsure", unsure), ("nobody", nobody)):
            d = get_draft(store, draft_of_photo(store, photo))
            results[mode][name] = d.status if d.caption else "no caption"
            if d.status == "approved":
                assert d.approved_at and d.caption
    assert results["manual"]["sure"] == "pending" and results["manual"]["unsure"] == "pending"
    assert results["auto"]["sure"] == "approved" and results["auto"]["unsure"] == "approved"
    assert results["confident"]["sure"] == "approved" and results["confident"]["unsure"] == "pending"
    # No pet recognised: never approved on confidence; with no caption, never approved at all.
    assert results["confident"]["nobody"] in ("pending", "no caption")
    assert results["auto"]["nobody"] in ("approved", "no caption")


def test_no_passing_candidate_leaves_a_note_and_no_caption(tmp_path, tiny_vlm):
    # Random weights cannot name Lola (except by accident): every round is refused. (In the first person the
    # primed "I" would name her.)
    config, store, captioner = _setup(tmp_path, captioner_models(tiny_vlm), captions=ABOUT_THE_PET,
                                      approval={"mode": "auto"})
    photo = add_analyzed_photo(store, config, {"Lola": 0.99})
    draft_analyzed(store, config, captioner)
    draft = get_draft(store, draft_of_photo(store, photo))
    if draft.caption is None:
        assert draft.status == "pending"  # even in auto mode: nothing to post
        assert draft.note.startswith(f"No caption passed the rules after {config.captions.max_attempts} round(s)")
        rows = _candidates(store, draft.id)
        assert len(rows) > config.captions.candidates  # more were generated before giving up
        # Each one was refused for a stated reason (which rule refuses random text first depends on the draw).
        assert all(r["reason"] for r in rows)
    else:
        assert "Lola" in draft.caption and draft.status == "approved"


def test_regenerate_with_hint_and_start(tmp_path, tiny_vlm):
    config, store, captioner = _setup(tmp_path, captioner_models(tiny_vlm))
    photo = add_analyzed_photo(store, config, {"Lola": 0.9})
    draft_analyzed(store, config, captioner)
    draft_id = draft_of_photo(store, photo)
    before = store.draft(draft_id)
    view = regenerate(store, config, captioner, draft_id, hint="at grandma's house", start="Lola here, reporting")
    row = store.draft(draft_id)
    assert row["seed"] != before["seed"]
    assert "at grandma's house" in row["prompt"] and row["hint"] == "at grandma's house"
    assert row["start_text"] == "Lola here, reporting"
    new = _candidates(store, draft_id, generation=1)
    assert new and all(c["text"].startswith("Lola here, reporting") for c in new)
    assert all(c.startswith("Lola here, reporting") for c in view.candidates)
    if view.caption is not None and view.note is None:
        assert view.caption == new[0]["text"] and view.caption.startswith("Lola here, reporting")
    # The earlier generation is kept for the record.
    assert _candidates(store, draft_id, generation=0)
    # Only pending drafts can be regenerated.
    store.set_draft_status(draft_id, "rejected")
    from bot.errors import PawpostError

    with pytest.raises(PawpostError, match="only pending drafts"):
        regenerate(store, config, captioner, draft_id)


def test_regenerate_and_edit_keep_what_retraining_needs(tmp_path, tiny_blip, scripted_writer):
    # The scripted writer speaks of Lola in the third person: a first-person voice would prime it with "I".
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_writer), captions=ABOUT_THE_PET)
    photo = add_analyzed_photo(store, config, {"Lola": 0.9})
    draft_analyzed(store, config, captioner)
    draft_id = draft_of_photo(store, photo)
    generated = get_draft(store, draft_id).caption
    assert generated
    edited = edit(store, config, draft_id, "Lola, queen of the blanket 👑 #chihuahua")
    row = store.draft(draft_id)
    assert edited.edited and row["edited"] == 1
    assert row["generated_caption"] == generated
    assert row["caption"] == "Lola, queen of the blanket 👑 #chihuahua"
    # A regeneration the owner asks for replaces the text and starts a fresh record.
    view = regenerate(store, config, captioner, draft_id, start="Lola")
    if view.note is None:
        assert not view.edited and view.caption.split("\n")[0] in SCRIPTED_CAPTIONS


def test_a_lora_adapter_is_applied_at_load(tmp_path, tiny_blip, tiny_writer):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_writer)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "models" / "captioner" / "v0003" / "adapter"
    peft_model.save_pretrained(adapter)
    config = caption_config(tmp_path / "pawpost", two_stage_models(tiny_blip, tiny_writer))
    store = Store.for_config(config)
    plain = Captioner(config, Runtime("cpu"))
    tuned = Captioner(config, Runtime("cpu"), adapter_dir=adapter)
    plain.writer.load()
    tuned.writer.load()
    assert tuned.version == "v0003" and plain.version == "base"
    w_plain = plain.writer.model.model.layers[0].self_attn.q_proj.weight
    w_tuned = tuned.writer.model.model.layers[0].self_attn.q_proj.weight
    assert not torch.allclose(w_plain, w_tuned)  # merged into the weights
    add_analyzed_photo(store, config, {"Lola": 0.9})
    assert draft_analyzed(store, config, tuned) == 1
    assert store.value("SELECT model_version FROM drafts") == "v0003"


def test_ranking_uses_the_vision_embedder_when_it_reads_text(tmp_path, scripted_vlm):
    from bot.captions import rank
    from bot.vision.identify import Vision
    from tests.tiny_vision import build_clip

    clip = build_clip(tmp_path / "clip")
    config, store, captioner = _setup(tmp_path, {**captioner_models(scripted_vlm), "embedder": str(clip)},
                                      captions={"candidates": 6, **ABOUT_THE_PET})
    vision = Vision(config, Runtime("cpu"))
    photo = add_analyzed_photo(store, config, {"Lola": 0.9})
    assert draft_analyzed(store, config, captioner, vision=vision) == 1
    draft_id = draft_of_photo(store, photo)
    rows = [r for r in _candidates(store, draft_id) if r["passed"]]
    assert rows and rows[0]["text"] == get_draft(store, draft_id).caption
    # The stored scores are the image-text ones: recomputing them with the same embedder gives the same order.
    image = store.abspath(store.photo(photo)["path"])
    from bot.captions.context import caption_image

    matches = rank.image_match(vision, caption_image(image), [r["text"] for r in rows])
    # The voice is about the dog (not the first person): the same scores as the stage gives.
    expected = rank.scores([r["text"] for r in rows], matches=matches, target_length=120, first_person=False)
    assert [r["score"] for r in rows] == sorted(expected, reverse=True)
