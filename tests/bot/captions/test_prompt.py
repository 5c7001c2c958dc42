"""The caption prompt: pets, scene, voice, theme of the day, style examples, hint and start."""

from __future__ import annotations

from datetime import date

from bot.captions.context import embedder_ids, past_captions, style_examples
from bot.captions.prompt import PetInfo, build_prompt, theme_for

from .conftest import add_past_caption


def test_prompt_has_pets_scene_voice_hint_examples_and_start(config) -> None:
    p = build_prompt(config, ["Lola"], scene="a dog on a red sofa",
                     examples=["Sofa queen 👑 #chihuahua", "Rainy day again"],
                     hint="her first day home", start="Guess who", day=date(2026, 12, 25))
    # The voice is the first person: the model writes as the pet, in the system message, which never says "You
    # are Lola the dog" (a small model answers "I am Lola the dog").
    assert p.system == ("You write short Instagram captions for Lola, a dog, as if Lola wrote them. Lola is sassy, "
                        "loves blankets, hates rain.")
    assert "You are" not in p.system
    # The photo as short sentences, no labelled lists for a small model to continue, no description to parrot.
    assert "Say one thing about what the photo shows: a dog on a red sofa." in p.user
    assert "fawn" not in p.system + p.user
    assert "The owner says about this photo: her first day home." in p.user
    assert "\n- " not in p.user and "Personality:" not in p.user
    # Style examples without their hashtags, marked as examples of tone.
    assert "examples of its tone (do not copy them):\n\"Sofa queen 👑\"\n\"Rainy day again\"" in p.user
    assert p.examples == ["Sofa queen 👑", "Rainy day again"] and "#chihuahua" not in p.user
    # 2026-12-25 is a Friday in winter: the date's, the weekday's and the season's themes, in that order.
    assert "The theme of the day is Christmas; it's almost the weekend; cold days, blankets and sweaters." in p.user
    # The scene, then the instruction, last: it carries the voice and asks for one detail of the scene.
    last = p.user.split("\n\n")[-1]
    assert last.startswith("Write one new, short caption for this photo of you, in this voice: playful, first "
                           "person as the dog, one or two emojis.")
    assert "Speak as Lola, saying \"I\" and \"my\"." in last and "photo shows: a dog on a red sofa." in last
    # Nothing asks it not to say names: a small model then opens with "My name is Lola".
    assert "name" not in last.replace("Mention", "")
    # The speaker is named by its "I": asking for its name makes a small model write about it in the third person.
    assert "Mention Lola" not in p.user and p.speaker == "Lola"
    # The owner's start is the caption's opening; without it the pet's answer is primed with "I".
    assert p.start == "Guess who" and p.opening == "Guess who"
    assert build_prompt(config, ["Lola"]).opening == "I"
    assert build_prompt(config, ["Lola"], variant=1).opening == "My"  # the photo's id picks one of the openings
    record = p.record()
    assert p.system in record and p.user in record and "Guess who" in record
    assert p.plain().endswith("Caption: Guess who")
    assert p.messages(with_image=True)[1]["content"][0] == {"type": "image"}
    assert p.messages(with_image=False)[1] == {"role": "user", "content": p.user}
    # What a caption must not parrot: the instructions and the description, not the scene or the hint.
    sources = p.echo_sources()
    assert "a tiny fawn chihuahua, rescued in 2021" in sources and last.split(". ")[0] in " ".join(sources)
    assert not any("red sofa" in s or "first day home" in s for s in sources)
    # Vision's own wording of what it found is the prompt's, not the photo's: "no animal could be seen clearly".
    assert "no animal could be seen clearly" in sources


def test_prompt_without_a_recognised_pet_names_none(config) -> None:
    p = build_prompt(config, [])
    assert "None of the account's pets is in this photo." in p.user and "Do not name any pet." in p.user
    assert "Lola" not in p.user and "Pico" not in p.user
    assert "Speak as" not in p.user and p.system == "You write short Instagram captions for a pet's account."
    assert p.opening == ""  # no pet to speak: no primed opening
    two = build_prompt(config, [PetInfo("Lola", "dog"), "Pico"])
    assert "photo of you and Pico" in two.user and "Mention Pico by name." in two.user
    assert two.system.startswith("You write short Instagram captions for Lola, a dog,")  # the first pet speaks
    assert two.opening == "Pico and I" and two.plain().endswith("Caption: Pico and I")
    assert "Pico is a dog. Pico is curious, clumsy" in two.user  # Pico's personality, looked up by name
    third = build_prompt(config.model_copy(update={"captions": config.captions.model_copy(
        update={"voice": "warm, about the dogs"})}), ["Lola"])
    assert third.user.startswith("Lola is a dog. Lola is sassy") and "Speak as" not in third.user
    assert "Mention Lola by name." in third.user and third.opening == ""


def test_chat_templates_render_the_same_prompt_for_the_writer_and_the_vlm(config, tiny_writer, tiny_vlm) -> None:
    from bot.captions.backends import ChatVLM, Writer
    from bot.runtime.ml import Runtime

    p = build_prompt(config, ["Lola"], scene="a dog on a red sofa", examples=["Sofa queen 👑"], start="Guess who")
    writer, vlm = Writer(str(tiny_writer), Runtime("cpu")), ChatVLM(str(tiny_vlm), Runtime("cpu"))
    writer.load()
    vlm.load()
    text, seen = writer.prompt_texts([p])[0], vlm.prompt_texts([p])[0]
    # Both carry the same system and user words, the instruction last, and end with the owner's start.
    for rendered in (text, seen):
        assert p.system in rendered and p.user in rendered
        assert rendered.index("Sofa queen") < rendered.index("Write one new, short caption")
        assert rendered.endswith("Guess who")
    assert text.endswith("<|im_start|>assistant\nGuess who")
    assert seen.endswith("Assistant: Guess who") and "<image>" in seen
    # Without the owner's start, both prime the pet's answer with the same first-person lead.
    two = build_prompt(config, ["Lola", "Pico"], scene="two dogs on a rug")
    for rendered in (writer.prompt_texts([two])[0], vlm.prompt_texts([two])[0]):
        assert two.user in rendered and rendered.endswith("Pico and I")


def test_theme_by_date_weekday_and_season(config) -> None:
    themes = config.captions.themes
    assert theme_for(themes, date(2026, 10, 31)) == "Halloween"  # a Saturday in autumn: only the date
    assert theme_for(themes, date(2026, 11, 27)) == "it's almost the weekend"  # a Friday
    assert theme_for(themes, date(2026, 1, 11)) == "lazy sunday; cold days, blankets and sweaters"
    assert theme_for(themes, date(2026, 5, 5)) is None
    assert "Theme of the day" not in build_prompt(config, ["Lola"], day=date(2026, 5, 5)).user


def test_style_examples_are_the_captions_of_the_most_similar_photos(store, config) -> None:
    add_past_caption(store, config, "Beach day!", sha="beach", vector=[1, 0, 0], posted_at="2026-01-01T10:00:00+00:00")
    add_past_caption(store, config, "Blanket burrito", sha="blanket", vector=[0, 1, 0],
                     posted_at="2026-01-02T10:00:00+00:00")
    add_past_caption(store, config, "Snow zoomies", sha="snow", vector=[0, 0, 1], posted_at="2026-01-03T10:00:00+00:00")
    add_past_caption(store, config, "Park again", sha="park", posted_at="2026-01-04T10:00:00+00:00")  # no embedding
    past = past_captions(store)
    assert [p.text for p in past] == ["Park again", "Snow zoomies", "Blanket burrito", "Beach day!"]
    import numpy as np

    v = np.asarray([0.1, 0.9, 0.2], dtype=np.float32)
    v /= np.linalg.norm(v)
    store.insert("embeddings", embedder=config.models.embedder, sha256="new", box="", dim=3, vector=v.tobytes(),
                 created_at="2026-02-01T00:00:00+00:00")
    ids = embedder_ids(config)
    assert style_examples(store, "new", 2, past, ids) == ["Blanket burrito", "Snow zoomies"]
    # More than the embedded ones: the most recent fill up.
    assert style_examples(store, "new", 4, past, ids) == ["Blanket burrito", "Snow zoomies", "Beach day!",
                                                          "Park again"]
    # A photo without a cached embedding (or no vision stage): the most recent captions.
    assert style_examples(store, "unknown", 2, past, ids) == ["Park again", "Snow zoomies"]
    assert style_examples(store, "new", 0, past, ids) == []


def test_imported_posts_count_as_past_captions(store, config) -> None:
    store.insert("imported_posts", media_id="1", caption="Old times with Lola", taken_at="2020-01-01T00:00:00+00:00",
                 imported_at="2026-01-01T00:00:00+00:00")
    store.insert("imported_posts", media_id="2", caption="", taken_at="2020-01-02T00:00:00+00:00",
                 imported_at="2026-01-01T00:00:00+00:00")
    assert [p.text for p in past_captions(store)] == ["Old times with Lola"]
