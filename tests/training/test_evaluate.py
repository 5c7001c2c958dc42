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


# -- CIDEr-D against the COCO caption toolkit's own scorer ------------------------------------------------------

# pycocoevalcap's `Cider` is CIDEr-D: clipped tf-idf n-grams (n = 1..4), a Gaussian length penalty with sigma = 6,
# document frequencies from the references of the corpus being scored, times 10. It takes pre-tokenized text (its
# PTB tokenizer is Java), so it is given exactly the tokens ours scores: lower-case words joined by single spaces.
WORDS = ["lola", "naps", "on", "the", "sofa", "rain", "again", "treats", "for", "breakfast", "walk", "park", "ball",
         "sun", "blanket", "pico", "sleepy", "today", "i", "refuse"]


def toolkit_cider(hyps: list[str], refs: list[list[str]], sigma: float = 6.0) -> tuple[float, list[float]]:
    from pycocoevalcap.cider.cider import Cider

    score, scores = Cider(sigma=sigma).compute_score({i: r for i, r in enumerate(refs)},
                                                     {i: [h] for i, h in enumerate(hyps)})
    return float(score), [float(s) for s in scores]


def corpus(seed: int, size: int) -> tuple[list[str], list[list[str]]]:
    """Captions of 0..14 words from a small vocabulary (so n-grams recur across items), 1..5 references each;
    hypotheses copy stretches of a reference, add words, repeat words (clipping) and vary in length (penalty)."""
    import random

    rng = random.Random(seed)

    def sentence(low: int, high: int) -> list[str]:
        return [rng.choice(WORDS) for _ in range(rng.randint(low, high))]

    hyps, refs = [], []
    for _ in range(size):
        rs = [sentence(1, 14) for _ in range(rng.randint(1, 5))]
        src = rng.choice(rs)
        start = rng.randrange(len(src))
        hyp = src[start:start + rng.randint(1, len(src))] + sentence(0, 6)
        if hyp and rng.random() < 0.3:
            hyp += [rng.choice(hyp)] * rng.randint(2, 5)
        if rng.random() < 0.2:
            rng.shuffle(hyp)
        if rng.random() < 0.1:
            hyp = []  # an empty caption scores 0 in both
        hyps.append(" ".join(hyp))
        refs.append([" ".join(r) for r in rs])
    return hyps, refs


@pytest.mark.parametrize(("seed", "size"), [(1, 2), (2, 7), (3, 25), (4, 60)])
def test_cider_d_equals_the_coco_toolkit_on_pre_tokenized_corpora(seed: int, size: int) -> None:
    hyps, refs = corpus(seed, size)
    for text in [*hyps, *(r for rs in refs for r in rs)]:
        assert tokenize(text) == text.split()  # like with like: our tokenizer leaves these as they are
    mean, each = toolkit_cider(hyps, refs)
    assert cider_d_each(hyps, refs) == pytest.approx(each, rel=1e-9, abs=1e-12)
    assert cider_d(hyps, refs) == pytest.approx(mean, rel=1e-9, abs=1e-12)
    # The corpus exercises what could go wrong: scores spread between 0 and 10, and the length penalty matters.
    assert len({round(s, 6) for s in each}) > min(size, 5) - 1 and max(each) > 0
    assert size < 3 or toolkit_cider(hyps, refs, sigma=1.0)[1] != each


def test_cider_d_equals_the_coco_toolkit_after_our_tokenizer_on_real_captions() -> None:
    # Emojis and punctuation: whatever our tokenizer makes of a caption, the score is the toolkit's on those tokens.
    hyps = ["Lola napped all day on her blanket 🐶", "Rain. I refuse!", "breakfast treats, always 🐾🐾🐾",
            "Who wants to play ball in the park?"]
    refs = [[REFS[0], "Lola on the blanket again 🐶"], [REFS[1]], [REFS[2], "Treats! 🐾"],
            ["Ball in the park, my favourite place", "Play time 🐾"]]
    mean, each = toolkit_cider([" ".join(tokenize(h)) for h in hyps],
                               [[" ".join(tokenize(r)) for r in rs] for rs in refs])
    assert cider_d_each(hyps, refs) == pytest.approx(each, rel=1e-9)
    assert cider_d(hyps, refs) == pytest.approx(mean, rel=1e-9) and 0 < mean < 10
