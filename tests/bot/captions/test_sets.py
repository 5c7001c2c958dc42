"""Captions about a set: a post of several photos (a carousel) is captioned as one, with tiny models.

Each test records what the real backend received (the photos, the prompts) and checks the draft the owner sees.
"""

from __future__ import annotations

import pytest

from bot.captions import context
from bot.captions.alttext import media_alt_texts
from bot.captions.stage import Captioner, draft_posts, photo_batches
from bot.drafts.actions import get_draft
from bot.drafts.media import media_of
from bot.drafts.regenerate import regenerate
from bot.runtime.ml import Runtime
from bot.store.database import Store
from tests.tiny_captions import build_chat_lm, script_model

from .conftest import ABOUT_THE_PET, add_analyzed_photo, caption_config, captioner_models, two_stage_models

BOTH = "Lola and Pico share the blanket."


@pytest.fixture(scope="module")
def scripted_pair_writer(tmp_path_factory):
    """A chat LM that says a caption naming both Lola and Pico, whatever the prompt."""
    return script_model(build_chat_lm(tmp_path_factory.mktemp("pair-writer"), hidden=64), [BOTH])


def _setup(tmp_path, models, **kw):
    config = caption_config(tmp_path / "pawpost", models, **kw)
    return config, Store.for_config(config), Captioner(config, Runtime("cpu"))


class Recorder:
    """Wraps a loaded model's method: records each call's arguments, then runs the real one."""

    def __init__(self, model, name):
        self.calls = []
        self.real = getattr(model, name)
        setattr(model, name, self)

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.real(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)  # a wrapped processor still has its tokenizer and chat template


def _pixels(image):
    return image.convert("RGB").tobytes()


def _carousel(store, config, colors_and_pets):
    return [add_analyzed_photo(store, config, pets, color=color) for color, pets in colors_and_pets]


def test_a_chat_vlm_sees_every_photo_of_the_post_in_one_message(tmp_path, tiny_vlm):
    config, store, captioner = _setup(tmp_path, captioner_models(tiny_vlm), captions=ABOUT_THE_PET)
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 200, 30), {"Pico": 0.8}),
                                       ((30, 30, 200), {"Lola": 0.7})])
    single = add_analyzed_photo(store, config, {"Lola": 0.9}, color=(90, 90, 90))
    captioner.vlm.load()
    processor = Recorder(captioner.vlm, "processor")  # what the model's processor is given, tokenised for real
    assert draft_posts(store, config, captioner, [photos, [single]]) == 2
    (_args, kwargs), *_ = processor.calls
    texts, images = kwargs["text"], kwargs["images"]
    # One generate call for both posts: the carousel's three photos in post order, the single photo alone.
    assert [len(shown) for shown in images] == [3, 1]
    expected = [_pixels(context.caption_image(store.abspath(store.photo(p)["path"]))) for p in photos]
    assert [_pixels(im) for im in images[0]] == expected
    assert texts[0].count("<image>") == 3 and texts[1].count("<image>") == 1
    assert "carousel of 3 photos" in texts[0] and "carousel" not in texts[1]
    # One draft of the three photos, in order, every photo drafted; the single photo has its own.
    draft = get_draft(store, store.value("SELECT draft_id FROM draft_media WHERE photo_id = ?", (photos[0],)))
    assert [m.photo_id for m in media_of(store, draft.id)] == photos
    assert {store.photo(p)["status"] for p in [*photos, single]} == {"drafted"}
    # Every pet of the set: named in the prompt, and asked of the caption by the rules.
    prompt = store.draft(draft.id)["prompt"]
    assert "Mention Lola and Pico by name." in prompt
    assert draft.confidence == pytest.approx(0.8)  # each pet at its surest photo, the least sure pet


def test_a_chat_vlm_is_shown_at_most_max_set_images(tmp_path, tiny_vlm):
    config, store, captioner = _setup(tmp_path, captioner_models(tiny_vlm), captions=ABOUT_THE_PET)
    n = context.MAX_SET_IMAGES + 2
    photos = _carousel(store, config, [((20 * i, 100, 50), {"Lola": 0.9}) for i in range(n)])
    captioner.vlm.load()
    processor = Recorder(captioner.vlm, "processor")
    assert draft_posts(store, config, captioner, [photos]) == 1
    (_args, kwargs), *_ = processor.calls
    assert [len(shown) for shown in kwargs["images"]] == [context.MAX_SET_IMAGES]
    assert kwargs["text"][0].count("<image>") == context.MAX_SET_IMAGES
    assert f"carousel of {n} photos" in kwargs["text"][0]  # the prompt still says how many the post has
    assert len(media_of(store, store.value("SELECT id FROM drafts"))) == n


def test_the_describer_describes_each_photo_and_the_writer_gets_the_merged_facts(tmp_path, tiny_blip,
                                                                                  scripted_pair_writer):
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_pair_writer),
                                      captions=ABOUT_THE_PET)
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 200, 30), {"Pico": 0.85}),
                                       ((200, 30, 30), {"Lola": 0.9})])
    captioner.describer.load()
    captioner.writer.load()
    described = Recorder(captioner.describer, "describe")
    written = Recorder(captioner.writer, "prompt_texts")
    assert draft_posts(store, config, captioner, [photos]) == 1
    assert sum(len(args[0]) for args, _ in described.calls) == 3  # every photo described
    draft_id = store.value("SELECT id FROM drafts")
    media = media_of(store, draft_id)
    words = [m.description for m in media]
    assert all(words)  # each medium keeps its own photo's description
    assert words[0] == words[2]  # the same picture twice reads the same
    merged = context.merge_facts(words)
    assert merged.count(words[0].rstrip(".;")) == 1  # said once
    (prompts,), _ = written.calls[0]
    assert prompts[0].scene == merged.rstrip(".") and "what the photos show" in prompts[0].user
    # The writer's caption names both pets and passes every rule, hashtags of both pets included.
    draft = get_draft(store, draft_id)
    assert draft.caption is not None, draft.note
    assert draft.caption.startswith(BOTH) and "#lolathechihuahua" in draft.caption and "#picothechi" in draft.caption
    # Alt text per photo: each names its own photo's pet and says what that photo shows.
    alts = media_alt_texts(store, draft_id)
    assert len(alts) == 3
    assert alts[0].startswith("Photo of Lola (a dog).") and alts[1].startswith("Photo of Pico (a dog).")
    for alt, word in zip(alts, words, strict=True):
        assert word.rstrip(".").lower() in alt.lower()


def test_a_caption_that_leaves_out_a_pet_of_the_set_is_refused(tmp_path, tiny_blip, scripted_writer):
    # The scripted writer only ever names Lola; Pico is in the second photo of the set.
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_writer), captions=ABOUT_THE_PET)
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 200, 30), {"Pico": 0.85})])
    lola_alone = add_analyzed_photo(store, config, {"Lola": 0.9}, color=(10, 10, 10))
    assert draft_posts(store, config, captioner, [photos, [lola_alone]]) == 2
    carousel = get_draft(store, store.value("SELECT draft_id FROM draft_media WHERE photo_id = ?", (photos[0],)))
    alone = get_draft(store, store.value("SELECT draft_id FROM draft_media WHERE photo_id = ?", (lola_alone,)))
    assert alone.caption is not None  # positive control: the same words pass for a photo of Lola alone
    assert carousel.caption is None and "No caption passed the rules" in carousel.note
    reasons = store.all("SELECT reason FROM candidates WHERE draft_id = ?", (carousel.id,))
    assert reasons and all("Pico" in r["reason"] for r in reasons)


def test_regenerate_captions_the_carousel_as_it_is_now(tmp_path, tiny_blip, scripted_pair_writer):
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_pair_writer),
                                      captions=ABOUT_THE_PET)
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 200, 30), {"Lola": 0.85})])
    assert draft_posts(store, config, captioner, [photos]) == 1
    draft_id = store.value("SELECT id FROM drafts")
    # A photo of Pico joins the post (as the owner's `drafts media add` would) after it was captioned.
    added = add_analyzed_photo(store, config, {"Pico": 0.9}, color=(30, 30, 200))
    store.insert("draft_media", draft_id=draft_id, position=2, photo_id=added)
    store.set_photo_status(added, "drafted")
    assert media_of(store, draft_id)[2].description is None
    captioner.describer.load()
    captioner.writer.load()
    described = Recorder(captioner.describer, "describe")
    written = Recorder(captioner.writer, "prompt_texts")
    view = regenerate(store, config, captioner, draft_id, hint="a lazy sunday")
    assert sum(len(args[0]) for args, _ in described.calls) == 3
    (prompts,), _ = written.calls[0]
    assert "carousel of 3 photos" in prompts[0].user and "Pico" in prompts[0].user
    assert "The owner says about these photos: a lazy sunday." in prompts[0].user
    assert view.caption is not None and view.caption.startswith(BOTH)
    assert media_of(store, draft_id)[2].description  # the new photo now has its own words, for its alt text
    assert media_alt_texts(store, draft_id)[2].startswith("Photo of Pico (a dog).")


def test_a_single_photo_prompt_has_no_set_wording(tmp_path, tiny_blip, scripted_writer):
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_writer), captions=ABOUT_THE_PET)
    photo = add_analyzed_photo(store, config, {"Lola": 0.9}, hint="first snow")
    assert draft_posts(store, config, captioner, [[photo]]) == 1
    prompt = store.draft(store.value("SELECT id FROM drafts"))["prompt"]
    assert "carousel" not in prompt and "these photos" not in prompt
    assert "this photo of Lola" in prompt and "The owner says about this photo: first snow." in prompt


def test_a_photo_drafted_meanwhile_is_left_out_of_its_post(tmp_path, tiny_blip, scripted_pair_writer):
    config, store, captioner = _setup(tmp_path, two_stage_models(tiny_blip, scripted_pair_writer),
                                      captions=ABOUT_THE_PET)
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 200, 30), {"Pico": 0.85})])
    other = draft_posts(store, config, captioner, [[photos[1]]])
    assert other == 1
    assert draft_posts(store, config, captioner, [photos]) == 1
    newest = store.value("SELECT max(id) FROM drafts")
    assert [m.photo_id for m in media_of(store, newest)] == [photos[0]]
    assert draft_posts(store, config, captioner, [photos]) == 0  # nothing left: no empty draft


def test_posts_are_batched_by_their_photo_count():
    assert photo_batches([[1], [2, 3], [4], [5, 6, 7, 8, 9], [10]], 4) == [[[1], [2, 3], [4]], [[5, 6, 7, 8, 9]],
                                                                            [[10]]]
    assert photo_batches([[1], [2]], 0) == [[[1]], [[2]]]


@pytest.mark.parametrize(("facts", "merged"), [
    (["a dog on a sofa"], "a dog on a sofa"),
    ([" A dog on a sofa. "], " A dog on a sofa. "),  # one photo's words come back untouched
    (["a dog on a sofa", "A dog  on a sofa.", "a dog in the park"], "a dog on a sofa; a dog in the park"),
    ([None, "", "a cat"], "a cat"),
    ([None, None], None),
])
def test_merge_facts(facts, merged):
    assert context.merge_facts(facts) == merged


def test_merge_scenes_says_no_animal_only_when_no_photo_shows_one():
    from bot.captions import templates

    stranger = templates.STRANGERS.format(animals="a cat")
    assert context.merge_scenes([templates.NO_ANIMAL_SEEN, templates.NO_ANIMAL_SEEN]) == templates.NO_ANIMAL_SEEN
    assert context.merge_scenes([None, templates.NO_ANIMAL_SEEN]) is None
    assert context.merge_scenes([stranger, templates.NO_ANIMAL_SEEN, stranger]) == stranger


def test_a_sets_candidates_are_ranked_by_how_well_they_fit_every_photo(tmp_path, scripted_vlm):
    from bot.captions import rank
    from bot.vision.identify import Vision
    from tests.tiny_vision import build_clip

    clip = build_clip(tmp_path / "clip")
    config, store, captioner = _setup(tmp_path, {**captioner_models(scripted_vlm), "embedder": str(clip)},
                                      captions={"candidates": 12, **ABOUT_THE_PET})
    vision = Vision(config, Runtime("cpu"))
    photos = _carousel(store, config, [((200, 30, 30), {"Lola": 0.9}), ((30, 30, 200), {"Lola": 0.9})])
    assert draft_posts(store, config, captioner, [photos], vision=vision) == 1
    draft_id = store.value("SELECT id FROM drafts")
    rows = [r for r in store.all("SELECT * FROM candidates WHERE draft_id = ? ORDER BY position", (draft_id,))
            if r["passed"]]
    assert len(rows) == 3  # every scripted caption: with two, any scores spread to the same 0 and 1
    texts = [r["text"] for r in rows]
    images = [context.caption_image(store.abspath(store.photo(p)["path"])) for p in photos]
    each = [rank.image_match(vision, image, texts) for image in images]
    mean = [(a + b) / 2 for a, b in zip(*each, strict=True)]
    expected = rank.scores(texts, matches=mean, target_length=120, first_person=False)
    first_only = rank.scores(texts, matches=each[0], target_length=120, first_person=False)
    assert sorted(first_only) != sorted(expected)  # the second photo changes the scores
    assert [r["score"] for r in rows] == sorted(expected, reverse=True)
