"""Caption metrics: known values on small hand-checked cases."""

from __future__ import annotations

import pytest

from training.evaluate import bleu, cider_d, cider_d_each, distinct_2, mean_length, rouge_l, tokenize

REFS = ["Lola napped on her blanket all day 🐶", "Rain again, I refuse to go outside", "Treats for breakfast, always!"]


def test_tokenize_keeps_emojis_and_drops_ascii_punctuation():
    assert tokenize("Lola's day!! 🐶🐾 #sunday") == ["lola's", "day", "🐶", "🐾", "sunday"]


def test_identical_captions_score_perfectly():
    assert cider_d(REFS, REFS) == pytest.approx(10.0)
    assert bleu(REFS, REFS) == pytest.approx(100.0)
    assert rouge_l(REFS, REFS) == pytest.approx(1.0)
    # As in the COCO toolkit, a caption shorter than 4 tokens has no 4-grams and gets 3 of 4 parts at most.
    assert cider_d(["Treats for breakfast", "a b c d"], ["Treats for breakfast", "a b c d"]) == pytest.approx(8.75)


def test_cider_d_rewards_overlap_and_punishes_length_and_repetition():
    partial = ["Lola napped on her blanket", "I refuse to go", "breakfast"]
    unrelated = ["the quick brown fox", "jumps over", "a lazy dog"]
    assert 0 < cider_d(partial, REFS) < 10
    assert cider_d(unrelated, REFS) == 0.0
    # Clipping: saying the rare word five times earns no more than saying it once (the length penalty less).
    once = cider_d(["blanket"], [REFS[0]])
    assert cider_d(["blanket blanket blanket blanket blanket"], [REFS[0]]) <= once


def test_cider_d_ignores_ngrams_every_reference_shares():
    # With document frequencies from the references, a word in all of them carries no information.
    refs = ["Lola sleeps", "Lola runs", "Lola eats"]
    assert cider_d(["Lola", "Lola", "Lola"], refs) == 0.0
    assert cider_d(["sleeps", "runs", "eats"], refs) > 0


def test_cider_d_gaussian_length_penalty():
    # Same clipped overlap, the longer hypothesis loses exactly exp(-delta^2 / (2 * 6^2)) more.
    refs = ["a b c d", "e f g h"]
    short = cider_d(["a b c d", "e f g h"], refs)
    assert short == pytest.approx(10.0)
    longer = cider_d(["a b c d x x x x x x", "e f g h"], refs)
    assert longer < short


def test_rouge_l_uses_the_longest_common_subsequence():
    # LCS("a b c d", "a x c d") = 3: P = R = 3/4, so F = 0.75 for any beta.
    assert rouge_l(["a x c d"], ["a b c d"]) == pytest.approx(0.75)
    # P = 2/2, R = 2/4, beta 1.2: (1 + 1.44) * 1 * 0.5 / (0.5 + 1.44 * 1)
    assert rouge_l(["a b"], ["a b c d"]) == pytest.approx(2.44 * 0.5 / 1.94)


def test_distinct_2_and_mean_length():
    assert distinct_2(["a b a b", "c d"]) == pytest.approx(3 / 4)  # (a b), (b a), (c d) of 4 bigrams
    assert mean_length(["a b", "c d e f"]) == 3.0
    assert distinct_2([]) == 0.0


def test_per_post_cider_averages_to_the_corpus_score():
    hyps = ["Lola napped on her blanket", "I refuse to go", "breakfast"]
    each = cider_d_each(hyps, REFS)
    assert len(each) == 3 and each[0] > each[2] >= 0
    assert sum(each) / 3 == pytest.approx(cider_d(hyps, REFS))


def test_paired_bootstrap_interval_covers_the_change_and_shrinks_with_agreement():
    from training.evaluate import Judged, compare

    refs = [f"Lola chased the {w} in the park" for w in ("ball", "cat", "duck", "kite", "stick", "leaf")]
    same = [Judged("Lola slept", 3, 0) for _ in refs]
    better = [Judged(r, 3, 0) for r in refs]
    c = compare(same, better, refs, resamples=500)
    bleu = c["bleu"]
    assert bleu.old < bleu.new == pytest.approx(100.0)
    assert 0 < bleu.low <= bleu.change <= bleu.high and bleu.p_not_better == 0.0
    # Identical models: no change and an interval of exactly zero.
    tie = compare(same, same, refs, resamples=200)["bleu"]
    assert (tie.low, tie.high, tie.p_not_better) == (0.0, 0.0, 1.0)
    # Refusals: a ratio over all candidates, lower is better.
    worse = [Judged(r, 3, 2) for r in refs]
    refused = compare(same, worse, refs, resamples=200)["refused_share"]
    assert (refused.old, refused.new, refused.higher_is_better) == (0.0, pytest.approx(2 / 3), False)


def test_bleu_from_sentence_statistics_equals_corpus_bleu():
    from training.evaluate import bleu_from_stats, bleu_stats

    hyps = ["Lola napped on the blanket", "Rain again", "Treats for breakfast always"]
    assert bleu_from_stats(bleu_stats(hyps, REFS)) == pytest.approx(bleu(hyps, REFS))
    assert bleu_from_stats(bleu_stats(hyps, REFS)[:2]) == pytest.approx(bleu(hyps[:2], REFS[:2]))
