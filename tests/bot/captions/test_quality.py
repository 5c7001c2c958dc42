"""The caption quality measures (bot.captions.quality and bot.captions.text) on hand-written captions."""

from __future__ import annotations

from bot.captions import quality
from bot.captions.text import complete_part, ends_sentence

SOURCES = ["Write one new, short caption for this photo of Lola, in this voice: playful, first person.",
           "a tiny fawn chihuahua, rescued in 2021"]


def test_echo_finds_parroted_instructions_descriptions_and_task_talk() -> None:
    assert quality.echo("Write one new, short caption for Lola", SOURCES) == \
        "it repeats the prompt (\"write one new short\")"
    assert "tiny fawn chihuahua" in quality.echo("Meet Lola, a tiny fawn chihuahua!", SOURCES)
    assert "talks about the task" in quality.echo("Here is my Instagram post 🐶", SOURCES)
    assert "talks about the task" in quality.echo("Personality: sassy, loves blankets", [])
    assert quality.echo("Lola: tiny, fawn and fabulous ✨", SOURCES) is None


def test_sentence_endings_and_trimming() -> None:
    for finished in ("Nap time.", "Nap time!!", "Who, me?", "Nap time 😴", "so \"sleepy.\"", "hi :)", "ok ❤️"):
        assert ends_sentence(finished), finished
    for unfinished in ("Nap time and", "Nap time,", ""):
        assert not ends_sentence(unfinished), unfinished
    assert complete_part("Nap time! 😴 Then I dream of the") == "Nap time! 😴"
    assert complete_part("no sentence ends here") == ""
    assert quality.truncated("Lola naps and\n\n#chihuahua")
    assert not quality.truncated("Lola naps 😴\n\n#chihuahua")


def test_mentions_hashtags_absent_pets_and_species() -> None:
    assert quality.invented_mentions("hi @Maria_walks and @bob.", ["@maria_walks"]) == ["@bob."]
    assert quality.inline_hashtags("Lola #loves the sun\n\n#chihuahua") == ["#loves"]
    others = [("Pico", ["#picothechi"])]
    assert quality.absent_pets("Lola naps #picothechi", others) == ["Pico"]
    assert quality.absent_pets("Lola and pico nap", others) == ["Pico"]
    assert quality.absent_pets("Lola naps alone, a picotee flower", others) == []
    assert quality.contradicting_species("Lola the kitten naps", ["dog"]) == ["kitten"]
    assert quality.contradicting_species("Lola the puppy naps", ["dog"]) == []
    assert quality.contradicting_species("a cat!", []) == []  # nothing known: nothing contradicts
    assert quality.scene_species("a small dog and a cat on a couch") == {"dog", "cat"}


def test_first_person_scene_and_form_measures() -> None:
    assert quality.wants_first_person("playful, first person as the dog")
    assert not quality.wants_first_person("warm, about the dog")
    assert quality.first_person("I'm so sleepy") and quality.first_person("my blanket")
    assert not quality.first_person("Lola is sleepy")
    scene = "a small dog lying on a blue blanket on a couch"
    assert quality.says_scene("Lola owns this couch", scene, ["Lola"])
    assert quality.says_scene("blankets are life", scene, ["Lola"])  # plural folded
    assert not quality.says_scene("Lola is a small dog", scene, ["Lola"])  # small/dog: stop and species words
    assert quality.multiline("one\ntwo") and quality.multiline("- item") and not quality.multiline("one\n\n#tag")
    assert quality.looped("nap time is nap time is best") and not quality.looped("nap time is the best")


def test_distinct_2_and_copying() -> None:
    assert quality.distinct_2(["a b c", "d e f"]) == 1.0
    assert quality.distinct_2(["a b c", "a b c"]) == 0.5
    assert quality.copied("Blanket burrito mode on", ["Blanket burrito mode: ON! #x", "other"]) == 1.0
    assert quality.copied("anything", []) == 0.0


def test_a_speaking_pet_introducing_itself() -> None:
    from bot.captions.quality import introduces

    for text in ["I'm Lola the dog. Hi!", "My name is Lola", "I am Lola, and I nap", "Lola the chihuahua here"]:
        assert introduces(text, "Lola"), text
    assert not introduces("I nap next to Lola's blanket", "Lola")
    assert not introduces("I'm Lola the dog", "")
