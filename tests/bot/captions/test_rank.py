"""Ranking: image-text match (or agreement with the description), novelty, length fit."""

from __future__ import annotations

from bot.captions.rank import agreement, length_fit, novelty, scores


def test_length_fit_peaks_at_the_account_length() -> None:
    assert length_fit("x" * 100, 100) == 1.0
    assert length_fit("x" * 50, 100) == 0.5
    assert length_fit("x" * 200 + " #tag #tag2", 100) == 0.5  # hashtags do not count
    assert length_fit("", 100) == 0.0


def test_novelty_against_past_captions() -> None:
    past = ["Lola naps on her blanket in the sun"]
    assert novelty("Lola naps on her blanket in the sun", past) == 0.0
    assert novelty("Zoomies in the park with Pico", past) > 0.6
    assert novelty("anything", []) == 1.0


def test_agreement_with_the_description() -> None:
    ref = "a small dog sleeping on a blanket near a window"
    assert agreement("Lola sleeps on her blankets by the window", ref) > agreement("Party time at the beach", ref)
    assert agreement("anything", "") == 0.0


def test_scores_prefer_the_caption_about_the_photo() -> None:
    texts = ["Lola dreaming on her blanket by the window 😴", "Beach party with everyone!", "Lola"]
    s = scores(texts, reference="a dog sleeping on a blanket by a window", target_length=45,
               past=["Beach party with everyone!!"])
    assert s[0] == max(s)
    assert s[1] < s[0] and s[2] < s[0]


def test_image_text_match_replaces_description_agreement() -> None:
    texts = ["Lola dreaming on her blanket", "Beach party with everyone"]
    by_text = scores(texts, reference="blanket", target_length=28)
    by_image = scores(texts, reference="blanket", target_length=28, matches=[0.21, 0.29])
    assert by_text[0] > by_text[1]
    assert by_image[1] > by_image[0]


def test_image_text_match_with_the_vision_embedder(tmp_path) -> None:
    from PIL import Image

    from bot.captions.rank import image_match
    from bot.config import Config
    from bot.runtime.ml import Runtime
    from bot.vision.identify import Vision
    from tests.tiny_vision import build_clip, build_dinov2

    image = Image.new("RGB", (64, 48), (200, 120, 40))
    texts = ["Lola on her blanket #chihuahua", "Beach party"]
    clip = Vision(Config(models={"embedder": str(build_clip(tmp_path / "clip")), "device": "cpu"}), Runtime("cpu"))
    found = image_match(clip, image, texts)
    assert len(found) == 2 and all(-1.0 <= m <= 1.0 for m in found)
    assert found == image_match(clip, image, texts)  # deterministic: the same texts score the same
    dino = Vision(Config(models={"embedder": str(build_dinov2(tmp_path / "dino")), "device": "cpu"}), Runtime("cpu"))
    assert image_match(dino, image, texts) is None  # cannot read text: ranking uses the description instead
    assert image_match(None, image, texts) is None


def test_scores_penalise_echo_and_reward_the_first_person_voice() -> None:
    from bot.captions.rank import echo_share

    sources = ["a tiny fawn chihuahua, rescued in 2021", "sassy, loves blankets, hates rain"]
    parrot = "Lola is a tiny fawn chihuahua, sassy, loves blankets, hates rain"
    own = "Lola here: my blanket, my sofa, my rules 💅"
    assert echo_share(parrot, sources) > 0.5 and echo_share(own, sources) == 0.0
    s = scores([parrot, own], reference="a dog on a blanket on a sofa", names=["Lola"], first_person=True,
               echo_sources=sources, target_length=45)
    assert s[1] > s[0]
    # Without the first-person voice the "I/my" reward goes to nobody.
    third = "Lola rules the sofa and the blanket 💅"
    first, other = scores([own, third], reference="a dog on a blanket on a sofa", names=["Lola"], target_length=40)
    assert abs(first - other) < 0.2
    assert scores([own, third], reference="x", names=["Lola"], first_person=True, target_length=40)[0] > \
        scores([own, third], reference="x", names=["Lola"], first_person=True, target_length=40)[1]


def test_scores_rank_a_pet_introducing_itself_or_an_unfinished_sentence_below_one_about_the_photo() -> None:
    about = "I guard my blanket by the window 😴"
    intro = "I'm Lola the dog and I love my day 😴"
    unfinished = "I guard my blanket by the window and"
    s = scores([about, intro, unfinished], reference="a dog on a blanket by a window", target_length=35,
               names=["Lola"], first_person=True, speaker="Lola")
    assert s[0] > s[1] and s[0] > s[2]
    # Without a speaker nobody introduces itself: the same text is not penalised for it.
    alone = scores([intro], target_length=35, first_person=True)[0]
    assert alone > scores([intro], target_length=35, first_person=True, speaker="Lola")[0]


def test_scores_prefer_words_the_batchs_other_captions_have_not_used() -> None:
    from bot.captions.rank import reused_share

    recent = ["I love my little blanket 😴"]
    assert reused_share("I love my little sofa", recent) == 0.75
    assert reused_share("Snow zoomies all day", recent) == 0.0 and reused_share("anything", []) == 0.0
    texts = ["I love my little sofa", "Zoomies on the sofa today"]
    before = scores(texts, target_length=22)
    after = scores(texts, target_length=22, recent=recent)
    assert after[1] == before[1] and after[0] < before[0]


def test_a_pet_alone_in_the_photo_speaking_of_my_dog_like_its_owner_ranks_lower() -> None:
    texts = ["My little dog naps on the blanket 😴", "I nap on the blanket 😴"]
    alone = scores(texts, reference="a dog on a blanket", target_length=30, species="dog", alone=True)
    assert alone[1] > alone[0]
    # With another dog in the photo, "my little dog" may be that one: no penalty.
    together = scores(texts, reference="a dog on a blanket", target_length=30, species="dog", alone=False)
    assert together[0] > alone[0]
