"""The caption prompt: pets, scene, voice, theme of the day, style examples, hint and start."""

from __future__ import annotations

from datetime import date

from bot.captions.context import embedder_ids, past_captions, style_examples
from bot.captions.prompt import PetInfo, build_prompt, theme_for

from .conftest import add_posted


def test_prompt_has_pets_scene_voice_hint_examples_and_start(config) -> None:
    p = build_prompt(config, ["Lola"], scene="a dog on a red sofa", examples=["Sofa queen 👑", "Rainy day again"],
                     hint="her first day home", start="Guess who", day=date(2026, 12, 25))
    assert "playful, first person as the dog, one or two emojis" in p.system
    assert "- Lola, a dog: a tiny fawn chihuahua, rescued in 2021. Personality: sassy, loves blankets" in p.user
    assert "What the photo shows: a dog on a red sofa" in p.user
    assert "her first day home" in p.user
    assert "- Sofa queen 👑\n- Rainy day again" in p.user
    # 2026-12-25 is a Friday in winter: the date's, the weekday's and the season's themes, in that order.
    assert "Theme of the day: Christmas; it's almost the weekend; cold days, blankets and sweaters" in p.user
    assert p.user.endswith("about Lola, and mention Lola by name.")
    assert p.start == "Guess who"
    record = p.record()
    assert p.system in record and p.user in record and "Guess who" in record
    assert p.plain().endswith("Caption: Guess who")
    assert p.messages(with_image=True)[1]["content"][0] == {"type": "image"}
    assert p.messages(with_image=False)[1] == {"role": "user", "content": p.user}


def test_prompt_without_a_recognised_pet_names_none(config) -> None:
    p = build_prompt(config, [])
    assert "No pet of the account was recognised" in p.user
    assert "Lola" not in p.user and "Pico" not in p.user
    two = build_prompt(config, [PetInfo("Lola", "dog"), "Pico"])
    assert "about Lola and Pico" in two.user
    assert "curious, clumsy" in two.user  # Pico's personality, looked up by name


def test_theme_by_date_weekday_and_season(config) -> None:
    themes = config.captions.themes
    assert theme_for(themes, date(2026, 10, 31)) == "Halloween"  # a Saturday in autumn: only the date
    assert theme_for(themes, date(2026, 11, 27)) == "it's almost the weekend"  # a Friday
    assert theme_for(themes, date(2026, 1, 11)) == "lazy sunday; cold days, blankets and sweaters"
    assert theme_for(themes, date(2026, 5, 5)) is None
    assert "Theme of the day" not in build_prompt(config, ["Lola"], day=date(2026, 5, 5)).user


def test_style_examples_are_the_captions_of_the_most_similar_photos(store, config) -> None:
    add_posted(store, config, "Beach day!", sha="beach", vector=[1, 0, 0], posted_at="2026-01-01T10:00:00+00:00")
    add_posted(store, config, "Blanket burrito", sha="blanket", vector=[0, 1, 0], posted_at="2026-01-02T10:00:00+00:00")
    add_posted(store, config, "Snow zoomies", sha="snow", vector=[0, 0, 1], posted_at="2026-01-03T10:00:00+00:00")
    add_posted(store, config, "Park again", sha="park", posted_at="2026-01-04T10:00:00+00:00")  # no embedding
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
