"""The speaking pet's identity: self-introductions, another pet's name, invented names, self-contradiction; as
measures and as the rules' refusals with the reasons the owner sees."""

from __future__ import annotations

from bot.captions import identity
from bot.captions.rules import RuleContext, check_candidate

LOLA = RuleContext(pet_names=["Lola"], other_names=["Pico"], speaker="Lola", speaker_species="dog",
                   species=["dog"], prompt_lines=["You are Lola the dog.", "Say one thing: a dog on a blue blanket"])
BOTH = RuleContext(pet_names=["Lola", "Pico"], speaker="Lola", speaker_species="dog", species=["dog"])


def test_self_introductions_in_the_personas_words_are_found() -> None:
    for text in ["I am Lola the dog. I'm sitting on the couch.", "I'm Lola and I love my blanket",
                 "My name is Lola!", "I'm a tiny fawn chihuahua and I love the sun", "Lola the chihuahua, that's me"]:
        assert identity.self_introduction(text, "Lola", "dog"), text
    assert identity.self_introduction("I am Mango, a happy and playful dog with big ears", "Mango", "dog")
    for text in ["I love my blanket", "I am so happy today", "I'm a sofa expert now"]:
        assert identity.self_introduction(text, "Lola", "dog") is None, text
    assert identity.self_introduction("I'm Lola", "", "dog") is None  # nobody speaks as a pet


def test_a_pet_calling_itself_by_another_pets_name_is_found() -> None:
    assert identity.identity_swap("Mango and I are chilling. I am Mango!", "Lola", ["Lola", "Mango"]) == "i am mango"
    assert identity.identity_swap("Call me Pico today", "Lola", ["Lola", "Pico"])
    assert identity.identity_swap("Me and Pico are chilling", "Lola", ["Lola", "Pico"]) is None
    assert identity.identity_swap("Pico and I nap", "Lola", ["Lola", "Pico"]) is None


def test_names_nobody_configured_are_found_but_known_words_and_sentence_starts_are_not() -> None:
    known = ["Lola", "Pico", "a small dog at the Eiffel tower"]
    assert identity.invented_names("My little chihuahua, Luna, is here", known) == ["Luna"]
    assert identity.invented_names("Luna and I love naps", known) == ["Luna"]
    assert identity.invented_names("Luna is my best friend", known) == ["Luna"]
    assert identity.invented_names("Sunday nap with Max the cat", known) == ["Max"]
    assert "Whiskers" in identity.invented_names("I met Mr. Whiskers today", known)
    for text in ["Happy Birthday to me! 🎂 Time for cake", "Nap time 😴 Blanket mode on", "Cheese? Yes please",
                 "Pico and I at the Eiffel tower", "Lola loves Christmas and her mom", "Nap. #Luna"]:
        assert identity.invented_names(text, known) == [], text


def test_a_pet_contradicting_who_it_is_is_found() -> None:
    assert identity.self_contradiction("I am not a dog, but I love bones", "Lola", "dog") == "i am not a dog"
    assert identity.self_contradiction("I'm a cat in disguise", "Lola", "dog") == "i'm a cat"
    assert identity.self_contradiction("Lola and I are having a lazy day", "Lola", "dog", ["Lola", "Pico"])
    assert identity.self_contradiction("I am all alone today", "Lola", "dog", ["Lola", "Pico"])
    for text in ["Pico and I are napping", "I'm a dog person", "I am a happy dog"]:
        assert identity.self_contradiction(text, "Lola", "dog", ["Lola", "Pico"]) is None, text
    assert identity.self_contradiction("All alone on my sofa", "Lola", "dog", ["Lola"]) is None


def test_the_rules_refuse_each_kind_with_a_reason_the_owner_can_read() -> None:
    cases = {
        "I am Lola the dog and I'm on my blue blanket.": "Lola introduce itself (\"i am lola\")",
        "I am Lola the dog. Blanket.": "Lola introduce itself (\"i am lola\")",
        "I am Pico and this is my blue blanket.": "call itself by another pet's name (\"i am pico\")",
        "I am not a dog, I am a blanket monster.": "contradict who it is or who is with it (\"i am not a dog\")",
        "My best friend, Luna, stole my blue blanket.": "it names Luna, who is neither one of the account's pets",
    }
    for text, reason in cases.items():
        v = check_candidate(text, LOLA)
        assert not v.passed, text
        assert reason in v.reason, (text, v.reason)
    v = check_candidate("Lola and I are napping. Lola is all alone.", BOTH)
    assert not v.passed and "contradict" in v.reason
    assert check_candidate("My blue blanket, my rules 😌", LOLA).passed
    assert check_candidate("Pico and I are guarding the sofa 🛋️", BOTH).passed


def test_a_pet_speaking_of_my_dog_as_its_owner_would_is_found() -> None:
    assert identity.speaks_as_owner("My little dog loves the sun", "dog") == "my little dog"
    assert identity.speaks_as_owner("My adorable puppy, running", "dog") == "my adorable puppy"
    assert identity.speaks_as_owner("My blanket, my rules", "dog") is None
    assert identity.speaks_as_owner("My little dog", "") is None


def test_an_opening_self_introduction_is_dropped_when_a_caption_follows_it() -> None:
    assert identity.without_introduction("I am Lola the dog. I'm napping on my blue blanket.", "Lola", "dog") == (
        "I'm napping on my blue blanket.")
    assert identity.without_introduction("My name is Lola, a sassy dog! sun on the grass is my favourite",
                                         "Lola", "dog") == "Sun on the grass is my favourite"
    # Nothing to drop, too little left, an introduction again, or not the first sentence.
    assert identity.without_introduction("I'm napping on my blue blanket. So cosy.", "Lola", "dog") is None
    assert identity.without_introduction("I am Lola the dog. So cosy.", "Lola", "dog") is None
    assert identity.without_introduction("I am Lola. I'm a tiny happy dog on a sofa", "Lola", "dog") is None
    assert identity.without_introduction("Sofa time. I am Lola the dog, by the way", "Lola", "dog") is None
    v = check_candidate("I am Lola the dog. I'm napping on my blue blanket.", LOLA)
    assert v.passed, v.reason
    assert v.text.startswith("I'm napping on my blue blanket.")
