"""Every caption rule, on hand-written candidates."""

from __future__ import annotations

from bot.captions.rules import RuleContext, check_candidate, merge_hashtags

LOLA = RuleContext(max_hashtags=5, pet_names=["Lola"], other_names=["Pico"],
                   hashtags=["#lolathechihuahua", "#chihuahua", "#rescuedog"])


def test_a_good_caption_passes_and_gets_the_pet_and_account_hashtags() -> None:
    v = check_candidate("Lola here, guarding my blanket from the rain 🌧️", LOLA)
    assert v.passed, v.reason
    assert v.text == "Lola here, guarding my blanket from the rain 🌧️\n\n#lolathechihuahua #chihuahua #rescuedog"


def test_a_loop_is_refused() -> None:
    loop = ("Lola: I'm so excited to finally share my story with you guys. "
            "I'm so excited to finally share my story")
    v = check_candidate(loop, LOLA)
    assert not v.passed
    assert "repeats itself" in v.reason and "so excited" in v.reason


def test_a_stutter_is_refused_but_laughter_is_not() -> None:
    assert "4 times in a row" in check_candidate("Lola sun sun sun sun", LOLA).reason
    assert check_candidate("Lola says ha ha ha", LOLA).passed


def test_a_sentence_said_twice_is_refused() -> None:
    v = check_candidate("Lola says hi. Nap time! Nap time!", LOLA)
    assert not v.passed
    assert "same sentence twice" in v.reason


def test_seven_closing_hashtags_are_merged_down_to_the_limit_without_duplicates() -> None:
    text = "Lola at the beach #beach #sun #Chihuahua #dog #happy #sea #waves"
    v = check_candidate(text, LOLA)
    assert v.passed, v.reason
    tags = v.text.split("\n\n")[1].split()
    assert tags == ["#lolathechihuahua", "#chihuahua", "#rescuedog", "#beach", "#sun"]
    assert v.text.startswith("Lola at the beach\n\n")


def test_seven_hashtags_inside_the_sentences_are_refused() -> None:
    text = "#Lola #loves #the #beach #and #the #sun today"
    v = check_candidate(text, RuleContext(max_hashtags=5))
    assert not v.passed
    assert "7 hashtags" in v.reason


def test_zero_hashtags_allowed_strips_them_all() -> None:
    text, problem = merge_hashtags("Lola naps #sleepy #blanket", ["#lolathechihuahua"], 0)
    assert problem is None
    assert text == "Lola naps"


def test_2500_characters_are_refused() -> None:
    text = ("Lola " + " ".join(f"w{i}" for i in range(800)))[:2499] + "!"
    assert len(text) == 2500
    v = check_candidate(text, RuleContext(pet_names=["Lola"]))
    assert not v.passed
    assert "2500 characters" in v.reason and "2200" in v.reason


def test_more_than_20_mentions_are_refused() -> None:
    text = "Lola says hi to " + " ".join(f"@friend{i}" for i in range(21))
    v = check_candidate(text, RuleContext(pet_names=["Lola"]))
    assert not v.passed
    assert "21 @mentions" in v.reason


def test_the_wrong_name_is_refused() -> None:
    v = check_candidate("Pico loves the sun on the sofa", LOLA)
    assert not v.passed
    assert v.reason == "it does not name Lola, who is in the photo"
    v = check_candidate("Lola and Pico love the sun", LOLA)
    assert not v.passed
    assert v.reason == "it names Pico, who is not in this photo"


def test_the_speaking_pet_is_named_by_its_i_and_we_speaks_for_every_pet_in_the_photo() -> None:
    alone = RuleContext(pet_names=["Lola"], other_names=["Pico"], speaker="Lola")
    assert check_candidate("I own this sofa now 👑", alone).passed
    assert check_candidate("Lola owns this sofa now", alone).passed
    # Without "I" or "my" nothing names her; a pet that does not speak is never named by "I".
    assert check_candidate("This sofa is taken", alone).reason == "it does not name Lola, who is in the photo"
    assert not check_candidate("I own this sofa now", RuleContext(pet_names=["Lola"])).passed
    both = RuleContext(pet_names=["Lola", "Pico"], speaker="Lola")
    assert check_candidate("Pico and I share the blanket", both).passed
    assert check_candidate("We share the blanket today", both).passed
    assert check_candidate("I keep the blanket to myself", both).reason == ("it does not name Pico, who is in "
                                                                          "the photo")
    # An absent pet is still refused, whoever speaks.
    assert not check_candidate("Pico and I nap", alone).passed


def test_a_name_only_in_a_hashtag_or_inside_a_word_does_not_count() -> None:
    assert not check_candidate("Sunny days #lola", LOLA).passed
    assert not check_candidate("Lolapalooza time", LOLA).passed
    assert check_candidate("Lola's favourite spot", LOLA).passed


def test_no_pet_recognised_allows_no_pet_name() -> None:
    ctx = RuleContext(pet_names=[], other_names=["Lola", "Pico"])
    assert check_candidate("Sunday on the sofa", ctx).passed
    assert not check_candidate("Lola on the sofa", ctx).passed


def test_a_copy_of_a_past_caption_is_refused() -> None:
    past = ["Lola in her blanket fort, do not disturb 🐶 #chihuahua", "Walkies with the best human"]
    ctx = RuleContext(pet_names=["Lola"], past_captions=past)
    v = check_candidate("Lola in her blanket fort, do NOT disturb! #rescuedog", ctx)
    assert not v.passed
    assert "near-copy" in v.reason and "blanket fort" in v.reason
    assert check_candidate("Lola found a new blanket fort and a sunbeam", ctx).passed


def test_special_tokens_prompt_echo_and_whitespace_are_cleaned() -> None:
    ctx = RuleContext(pet_names=["Lola"], special_tokens=["<|im_end|>"],
                      prompt_lines=["Write a new caption for this photo about Lola."])
    raw = ("Assistant:  Write a new caption for this photo about Lola.\n"
           "<|im_end|>Lola   naps\t in the\x07 sun.<end_of_utterance>")
    v = check_candidate(raw, ctx)
    assert v.passed, v.reason
    assert v.text == "Lola naps in the sun."


def test_the_owner_start_must_begin_the_caption() -> None:
    ctx = RuleContext(pet_names=["Lola"], start="Good morning from")
    assert check_candidate("Good morning from Lola and her blanket", ctx).passed
    v = check_candidate("Lola says good morning", ctx)
    assert not v.passed and "requested start" in v.reason


def test_an_empty_or_hashtag_only_candidate_is_refused() -> None:
    assert check_candidate("  <|im_end|> ", RuleContext()).reason == "the caption is empty"
    assert not check_candidate("#dog #cat", RuleContext()).passed


# -- content rules (what a real 135M writer gets wrong) ---------------------------------------------

FULL = RuleContext(max_hashtags=5, pet_names=["Lola"], other_names=["Pico"],
                   hashtags=["#lolathechihuahua", "#chihuahua"], other_hashtags=["#picothechi"],
                   mentions=["@maria_walks"], known_hashtags=["#adoptdontshop"], species=["dog"],
                   echo_sources=["Write one new, short caption for this photo of Lola.",
                                 "a tiny fawn chihuahua, rescued in 2021", "sassy, loves blankets, hates rain"],
                   examples=["Blanket burrito mode: ON. Do not disturb unless you bring cheese"])


def test_an_unconfigured_mention_is_refused_and_a_configured_one_passes() -> None:
    v = check_candidate("Lola and @bestfriend at the park 🐾", FULL)
    assert not v.passed and v.reason == "it mentions @bestfriend, who is not in captions.mentions"
    assert check_candidate("Lola walking with @maria_walks 🐾", FULL).passed


def test_a_hashtag_inside_a_sentence_must_be_the_accounts() -> None:
    v = check_candidate("Lola loves #blankets so much 😴", FULL)
    assert not v.passed and "#blankets inside a sentence" in v.reason
    assert check_candidate("Lola says #adoptdontshop today 😴", FULL).passed  # one the account has used
    assert check_candidate("Lola loves her #chihuahua life 😴", FULL).passed  # configured


def test_an_absent_pets_hashtag_is_refused_inside_and_dropped_at_the_end() -> None:
    v = check_candidate("Lola and her #picothechi brother 😴", FULL)
    assert not v.passed and "#picothechi" in v.reason and "not in this photo" in v.reason
    v = check_candidate("Lola naps in the sun 😴 #picothechi #sunny", FULL)
    assert v.passed, v.reason
    assert "#picothechi" not in v.text and v.text.endswith("#lolathechihuahua #chihuahua #sunny")


def test_a_species_that_contradicts_the_photo_is_refused() -> None:
    v = check_candidate("Lola, a cat, naps on the sofa.", FULL)
    assert not v.passed and "\"cat\"" in v.reason
    assert check_candidate("Lola the chihuahua naps on the sofa.", FULL).passed
    with_cat = RuleContext(pet_names=["Lola"], species=["dog", "cat"])
    assert check_candidate("Lola and a cat share the sofa.", with_cat).passed


def test_echo_of_the_instructions_or_a_description_is_refused() -> None:
    v = check_candidate("Write one new, short caption for this photo of Lola.", FULL)
    assert not v.passed and "repeats the prompt" in v.reason
    v = check_candidate("Lola is a tiny fawn chihuahua, rescued in 2021.", FULL)
    assert not v.passed and "tiny fawn chihuahua" in v.reason
    v = check_candidate("Lola's personality: sassy 💅", FULL)
    assert not v.passed and "talks about the task" in v.reason
    assert check_candidate("Lola, tiny but mighty, owns this blanket 💅", FULL).passed


def test_a_list_is_refused() -> None:
    v = check_candidate("- Lola, on the sofa\n- Lola again", FULL)
    assert not v.passed and v.reason == "it is a list, not a caption"


def test_only_the_first_paragraph_is_kept() -> None:
    v = check_candidate("Lola naps in the sun 😴\n\nHere is another caption for you.", FULL)
    assert v.passed and v.text.split("\n\n")[0] == "Lola naps in the sun 😴"


def test_a_cut_off_candidate_keeps_its_finished_sentences_or_is_refused() -> None:
    from bot.captions.rules import Generated

    v = check_candidate(Generated("Lola naps in the sun. She dreams of the big", cut_off=True), FULL)
    assert v.passed and v.text.split("\n\n")[0] == "Lola naps in the sun."
    v = check_candidate(Generated("Lola naps in the sun and dreams of the big", cut_off=True), FULL)
    assert not v.passed and "cut off mid-sentence" in v.reason
    # The same words that ended by themselves are a finished caption.
    assert check_candidate(Generated("Lola naps in the sun and dreams of the big", cut_off=False), FULL).passed


def test_a_near_copy_of_a_style_example_is_refused() -> None:
    v = check_candidate("Lola says: blanket burrito mode ON. Do not disturb unless you bring cheese", FULL)
    assert not v.passed and "near-copy" in v.reason and "style example" in v.reason


def test_rule_context_takes_mentions_absent_pets_species_and_examples_from_config_and_prompt(config) -> None:
    from bot.captions.prompt import build_prompt
    from bot.captions.rules import rule_context
    from bot.config import Config

    config = Config(**{**config.model_dump(exclude={"source"}),
                       "captions": {**config.captions.model_dump(), "mentions": ["maria_walks"]}})
    prompt = build_prompt(config, ["Lola"], scene="a small dog and a cat on a sofa; also a cat, not one of the "
                                                  "account's pets", examples=["Sofa queen 👑 #sofa"])
    ctx = rule_context(config, prompt, ["Old post #throwback"], [])
    assert ctx.mentions == ["@maria_walks"]
    assert ctx.other_names == ["Pico"] and ctx.other_hashtags == ["#picothechi"]
    assert ctx.species == ["cat", "dog"] and ctx.examples == ["Sofa queen 👑"]
    assert ctx.known_hashtags == ["#throwback"]
    assert any("Speak as Lola" in s for s in ctx.echo_sources) and ctx.speaker == "Lola"
    assert check_candidate("Lola and @maria_walks share the sofa with a cat 🐱", ctx).passed
    assert not check_candidate("Lola and @stranger share the sofa 🐱", ctx).passed


def test_the_token_budget_follows_the_accounts_caption_lengths() -> None:
    from bot.captions.context import PastCaption, token_budget

    short = [PastCaption("x" * 60 + " #tag", None)] * 5
    assert token_budget(short, 60) == 30  # 1.5 x 60 characters / 3 characters per token
    assert token_budget([PastCaption("x" * 400, None)] * 5, 60) == 60  # never above captions.max_new_tokens
    assert token_budget([PastCaption("hi", None)] * 5, 60) == 24  # never below 24
    assert token_budget(short[:2], 60) == 60  # too few captions to tell


def test_a_candidate_that_stops_after_a_comma_keeps_only_its_finished_sentences() -> None:
    # The writer stops at the end of the line; "My love for Christmas," was posted as it was.
    assert check_candidate("Snow day! My love for Christmas,", LOLA).text.startswith("Snow day!")
    v = check_candidate("My love for Christmas, Lola", LOLA)
    assert v.passed  # a comma inside is fine
    v = check_candidate("Lola and my love for Christmas,", LOLA)
    assert not v.passed and v.reason == "its only sentence is unfinished"
