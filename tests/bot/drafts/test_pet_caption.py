"""The caption follows the owner's word on the pets: names and hashtags swapped or dropped, rules re-checked, or a
regenerate offered when a word-for-word fix cannot be right."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.drafts.pet_caption import fix_caption
from tests.conftest import write_config

PETS = [{"name": "Lola", "species": "dog", "hashtags": ["#lolathechihuahua"]},
        {"name": "Pico", "species": "dog", "hashtags": ["#picothechi"]},
        {"name": "Miso", "species": "cat", "hashtags": ["#misothecat", "#catsofinstagram"]}]


@pytest.fixture
def cfg(tmp_path):
    return load_config(write_config(tmp_path, {"captions": {"hashtags": ["#chihuahua"], "max_hashtags": 5}},
                                    pets=PETS))


def test_a_wrong_pet_is_swapped_for_the_right_one(cfg):
    fix = fix_caption("Lola's blanket fort is open 🐶\n\n#lolathechihuahua #chihuahua", ["Lola"], ["Pico"], cfg)

    assert fix.changed and fix.needs_regenerate is None
    assert fix.text == "Pico's blanket fort is open 🐶\n\n#picothechi #chihuahua"


def test_a_removed_pet_s_hashtags_go_and_the_rest_stays(cfg):
    fix = fix_caption("Nap o'clock #lolathechihuahua #picothechi #chihuahua", ["Lola", "Pico"], ["Pico"], cfg)

    assert fix.changed and fix.needs_regenerate is None
    assert fix.text == "Nap o'clock #picothechi #chihuahua"


def test_a_pet_added_gets_its_hashtag_while_there_is_room(cfg):
    fix = fix_caption("Two chihuahuas, one sofa #lolathechihuahua", ["Lola"], ["Lola", "Pico"], cfg)

    assert fix.changed and fix.text == "Two chihuahuas, one sofa #lolathechihuahua\n\n#picothechi"


def test_a_removed_pet_named_in_the_prose_asks_for_a_regenerate(cfg):
    text = "Lola and Pico share the blanket #lolathechihuahua"
    fix = fix_caption(text, ["Lola", "Pico"], ["Pico"], cfg)

    assert not fix.changed and fix.text == text
    assert "talks about Lola, who is not in the photo" in fix.needs_regenerate


def test_a_dog_become_a_cat_is_fixed_but_offered_a_regenerate(cfg):
    fix = fix_caption("Lola says woof #lolathechihuahua", ["Lola"], ["Miso"], cfg)

    assert fix.changed and fix.text.startswith("Miso says woof #misothecat")
    assert "Lola was a dog and Miso is a cat" in fix.needs_regenerate


def test_the_fix_keeps_to_max_hashtags(cfg):
    fix = fix_caption("Sunny #a #b #c #d #lolathechihuahua", ["Lola"], ["Miso"], cfg)

    # Lola's tag becomes Miso's first; Miso's second would be a sixth hashtag, over captions.max_hashtags.
    assert fix.changed and fix.text == "Sunny #a #b #c #d #misothecat" and fix.needs_regenerate is None


def test_a_fix_that_would_break_a_rule_is_not_made(tmp_path):
    cfg = load_config(write_config(tmp_path, pets=[{"name": "Al", "species": "dog"},
                                                   {"name": "Bartholomew", "species": "dog"}]))
    text = "Al " + "z" * 2190

    fix = fix_caption(text, ["Al"], ["Bartholomew"], cfg)

    assert not fix.changed and fix.text == text
    assert "would break a rule" in fix.needs_regenerate and "2200" in fix.needs_regenerate


def test_a_name_inside_another_word_is_left_alone(cfg):
    fix = fix_caption("Lolaland is Lola's kingdom", ["Lola"], ["Pico"], cfg)

    assert fix.text.startswith("Lolaland is Pico's kingdom")


def test_a_caption_without_the_pets_is_left_exactly_as_written(cfg):
    text = "Rainy  day,   blanket day.\n  Nothing else to say #chihuahua"

    fix = fix_caption(text, ["Lola"], ["Pico"], cfg)

    assert fix.text == text + "\n\n#picothechi" and fix.needs_regenerate is None
