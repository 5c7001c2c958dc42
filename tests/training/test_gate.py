"""The promotion gate's decision: beyond the noise on the chosen captions, no more refusals, enough posts."""

from __future__ import annotations

from bot.config import RetrainConfig
from training.evaluate import Judged, compare
from training.gate import decide

REFS = [f"Field report: I chased the {w} in the park today. Over and out, Lola." for w in
        ("ball", "cat", "pigeon", "leaf", "squirrel", "frisbee", "duck", "kite", "bubble", "stick")]


def judged(texts: list[str], refused: int = 1, candidates: int = 4) -> list[Judged]:
    return [Judged(t, candidates, refused) for t in texts]


def test_a_clear_gain_with_no_more_refusals_is_promoted():
    old = judged(["I like my blanket." for _ in REFS], refused=2)
    new = judged([r.replace("today", "yesterday") for r in REFS], refused=1)
    verdict = decide(compare(old, new, REFS), RetrainConfig(), len(REFS))
    assert verdict.promote, verdict.reason
    assert [c["passed"] for c in verdict.checks] == [True, True, True]


def test_a_gain_within_the_noise_is_not_promoted():
    # One post much better, the rest unchanged: the mean moves, the bootstrap interval still reaches zero.
    old = judged(["I like my blanket." for _ in REFS])
    new = judged([REFS[0], *["I like my blanket." for _ in REFS[1:]]])
    compared = compare(old, new, REFS)
    assert compared["bleu"].new > compared["bleu"].old and compared["bleu"].low <= 0
    verdict = decide(compared, RetrainConfig(), len(REFS), too_little="only 10 training step(s) of the 80")
    assert not verdict.promote
    assert "within the noise" in verdict.reason and "only 10 training step(s)" in verdict.reason


def test_a_clearly_worse_model_is_called_worse_not_noise():
    old = judged(list(REFS))
    new = judged(["I like my blanket." for _ in REFS])
    compared = compare(old, new, REFS)
    assert compared["bleu"].high < 0
    verdict = decide(compared, RetrainConfig(), len(REFS))
    assert not verdict.promote and "is worse" in verdict.reason and "noise" not in verdict.reason.split("(")[0]


def test_more_refusals_block_a_better_model():
    old = judged(["I like my blanket." for _ in REFS], refused=1)
    new = judged(list(REFS), refused=2)
    verdict = decide(compare(old, new, REFS), RetrainConfig(), len(REFS))
    assert not verdict.promote and "refuse more" in verdict.reason
    # The owner may allow some rise.
    assert decide(compare(old, new, REFS), RetrainConfig(max_refusal_rise=0.3), len(REFS)).promote


def test_a_post_without_any_passing_caption_counts_against_the_model():
    old = judged(list(REFS))
    new = judged(["" for _ in REFS])
    compared = compare(old, new, REFS)
    assert compared["no_caption_share"].new == 1.0 and compared["bleu"].new == 0.0
    assert not decide(compared, RetrainConfig(), len(REFS)).promote


def test_too_few_held_out_posts_keep_the_old_model_and_say_why():
    old = judged(["I like my blanket." for _ in REFS[:4]], refused=2)
    new = judged(list(REFS[:4]), refused=0)
    verdict = decide(compare(old, new, REFS[:4]), RetrainConfig(min_holdout_posts=8), 4)
    assert not verdict.promote
    assert "only 4 held-out post(s)" in verdict.reason and "history import" in verdict.reason


def test_the_gate_sees_the_past_as_it_was_before_the_held_out_posts(make_home, writer_models):
    from bot.captions.context import past_captions
    from tests.training.conftest import add_posts, retrain_sections
    from training import dataset as ds
    from training.gate import past_before

    config, store = make_home(retrain_sections(writer_models))
    add_posts(store, 30)
    data = ds.build(store, config)
    held = {e.raw for e in data.holdout}
    with past_before(store, data.holdout) as past:
        seen = {p.text for p in past_captions(past, 500)}
        # Its own caption would be a style example to copy and a "past caption" that refuses the right answer.
        assert not seen & held and seen == {e.raw for e in data.train}
        assert past.abspath("library/x.jpg") == store.abspath("library/x.jpg")  # photos are the real ones
    assert {p.text for p in past_captions(store, 500)} >= held  # the real database is untouched


def test_each_model_is_prompted_with_its_own_number_of_style_examples(make_home, writer_models):
    from bot.runtime.ml import Runtime
    from tests.training.conftest import add_posts, retrain_sections
    from training import dataset as ds
    from training.gate import past_before, write_holdout

    sections = retrain_sections(writer_models)
    sections["captions"]["style_examples"] = 2
    config, store = make_home(sections)
    add_posts(store, 30)
    data = ds.build(store, config)
    runtime = Runtime("cpu", "float32")
    with past_before(store, data.holdout) as past:
        base = write_holdout(past, config, runtime, data.holdout[:2], adapter_dir=None, style_examples=None)
        tuned = write_holdout(past, config, runtime, data.holdout[:2], adapter_dir=None, style_examples=0)
    assert [len(x) for x in base.examples] == [2, 2] and tuned.examples == [[], []]
    for e, shown in zip(data.holdout[:2], base.examples, strict=True):
        other = "Pico" if e.pets == ["Lola"] else "Lola"
        assert not any(other in text for text in shown)  # never another pet's caption
    assert all(j.candidates >= config.captions.candidates for j in base.judged + tuned.judged)
