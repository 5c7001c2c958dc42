"""Training inputs are the daemon's prompts (its style examples, never another pet's) plus the caption."""

from __future__ import annotations

from datetime import timedelta

from tests.rows import START, add_posted
from tests.training.conftest import retrain_sections


def test_training_inputs_are_the_daemons_prompt_followed_by_the_caption(make_home, writer_models):
    from bot.runtime.ml import Runtime
    from training import dataset
    from training.backend import Backend
    from training.prompts import Prompts, sample_for

    config, store = make_home(retrain_sections(writer_models, holdout_fraction=0.2) |
                              {"captions": {"style_examples": 2, "voice": "short"}})
    captions = ["Walk time! #walk", "Lola naps on the sofa.", "Treats, please?", "Good morning from Lola!"]
    for i, text in enumerate(captions):
        add_posted(store, text, START + timedelta(days=i), "Lola")
    data = dataset.build(store, config)
    backend = Backend("writer", config.models.writer, Runtime("cpu", "float32"))
    backend.load()
    prompts = Prompts(store, config, data.examples, {e.key: "a dog on a sofa" for e in data.examples})

    newest = data.holdout[-1]
    prompt = prompts(newest)
    # Its own caption never appears in its prompt; the two posts before it are the style examples, newest first.
    assert "Good morning from Lola" not in prompt.user
    assert prompt.user.index("Treats, please?") < prompt.user.index("Lola naps on the sofa.")
    assert "Walk time" not in prompt.user
    assert "what the photo shows: a dog on a sofa" in prompt.user and "Lola" in prompt.user

    sample = sample_for(backend, prompts, newest)
    encoded = backend.encode(sample)
    writer = backend.caption_model
    daemon_ids = writer.tokenizer(writer.prompt_texts([prompt]), add_special_tokens=not writer.chat)["input_ids"][0]
    ids = encoded["input_ids"][0].tolist()
    labels = encoded["labels"][0].tolist()
    n = len(daemon_ids)
    assert ids[:n] == daemon_ids  # exactly the tokens the daemon feeds the model
    assert labels[:n] == [-100] * n  # no loss on the prompt
    assert labels[n:] == ids[n:]
    assert ids[-1] == backend.end_token_id()
    assert backend.tokenizer.decode(ids[n:-1]) == "Good morning from Lola!"


def test_training_prompts_never_show_another_pets_caption(make_home, writer_models):
    from training import dataset
    from training.prompts import Prompts

    config, store = make_home(retrain_sections(writer_models, holdout_fraction=0.2))
    posts = [("Lola", "Lola guards the sofa."), ("Pico", "Pico stole my sock."), ("Lola", "Lola hates rain."),
             ("Pico", "Pico found a stick."), ("Lola", "Lola loves her blanket.")]
    for i, (pet, text) in enumerate(posts):
        add_posted(store, text, START + timedelta(days=i), pet)
    data = dataset.build(store, config)
    newest = data.holdout[-1]
    shown = Prompts(store, config, data.examples, {}, style_examples=2)(newest).user
    # Lola's photo: her own two most recent captions, never Pico's (a small model copies the name and story).
    assert "Lola hates rain." in shown and "Lola guards the sofa." in shown and "Pico" not in shown
    assert "Lola hates rain." not in Prompts(store, config, data.examples, {}, style_examples=0)(newest).user


def test_a_first_person_caption_is_learned_whole_without_the_primed_first_words(make_home, writer_models):
    """The base model's answer is primed with the pet's first words ("I", "My"); training prompts are not, so the
    model learns the owner's caption from its first word and, once promoted, is prompted the same way."""
    from bot.captions.prompt import build_prompt
    from bot.runtime.ml import Runtime
    from training import dataset
    from training.backend import Backend
    from training.prompts import Prompts, sample_for

    config, store = make_home(retrain_sections(writer_models, holdout_fraction=0.2) |
                              {"captions": {"voice": "playful, first person as the dog"}})
    for i, text in enumerate(["Blanket burrito mode: ON.", "Rain? No thank you.", "Sunday walk, 3 whole km!"]):
        add_posted(store, text, START + timedelta(days=i), "Lola")
    data = dataset.build(store, config)
    assert build_prompt(config, ["Lola"], scene="a dog").opening  # the base model's prompt is primed
    newest = data.holdout[-1]
    prompt = Prompts(store, config, data.examples, {})(newest)
    assert prompt.opening == "" and prompt.speaker == "Lola"

    backend = Backend("writer", config.models.writer, Runtime("cpu", "float32"))
    backend.load()
    encoded = backend.encode(sample_for(backend, Prompts(store, config, data.examples, {}), newest))
    labels = [t for t in encoded["labels"][0].tolist() if t != -100]
    assert backend.tokenizer.decode(labels[:-1]) == newest.caption
