"""Caption metrics on held-out posts (BLEU, ROUGE-L, CIDEr-D, distinct-2, mean length), and the paired
bootstrap that says whether a difference between two models on the same posts is larger than the noise.

All computed here, offline: BLEU through sacrebleu, the others implemented below (no Java, no downloads).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Words (with inner apostrophes) and single non-space symbols, so emojis count as tokens: they are the voice.
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…“”‘’–—")


def tokenize(text: str) -> list[str]:
    """Lower-case words and emojis; ASCII punctuation dropped (as the COCO PTB tokenizer does)."""
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in _ASCII_PUNCT]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


# -- BLEU ---------------------------------------------------------------------------------------


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU (0-100) with one reference per hypothesis, sacrebleu's standard 13a tokenisation."""
    from sacrebleu.metrics import BLEU

    if not hyps:
        return 0.0
    return float(BLEU().corpus_score(list(hyps), [list(refs)]).score)


def bleu_stats(hyps: Sequence[str], refs: Sequence[str]) -> list[list[int]]:
    """sacrebleu's sufficient statistics per sentence (n-gram matches and totals, lengths): a corpus BLEU of
    any subset is the BLEU of their sum, so a bootstrap need not re-tokenise."""
    from sacrebleu.metrics import BLEU

    return [list(map(int, row)) for row in BLEU()._extract_corpus_statistics(list(hyps), [list(refs)])]


def bleu_from_stats(rows: Sequence[Sequence[int]]) -> float:
    from sacrebleu.metrics import BLEU

    if not rows:
        return 0.0
    total = [sum(col) for col in zip(*rows, strict=True)]
    return float(BLEU()._compute_score_from_stats(total).score)


# -- ROUGE-L ------------------------------------------------------------------------------------


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b, 1):
            row.append(prev[j - 1] + 1 if x == y else max(prev[j], row[j - 1]))
        prev = row
    return prev[-1]


def rouge_l(hyps: Sequence[str], refs: Sequence[str], beta: float = 1.2) -> float:
    """Mean sentence ROUGE-L F-score (0-1), recall weighted by beta = 1.2 as in the COCO caption toolkit."""
    scores = rouge_l_each(hyps, refs, beta)
    return sum(scores) / len(scores) if scores else 0.0


def rouge_l_each(hyps: Sequence[str], refs: Sequence[str], beta: float = 1.2) -> list[float]:
    scores = []
    for hyp, ref in zip(hyps, refs, strict=True):
        h, r = tokenize(hyp), tokenize(ref)
        lcs = _lcs(h, r)
        if lcs == 0:
            scores.append(0.0)
            continue
        prec, rec = lcs / len(h), lcs / len(r)
        scores.append((1 + beta**2) * prec * rec / (rec + beta**2 * prec))
    return scores


# -- CIDEr-D ------------------------------------------------------------------------------------


def cider_d(hyps: Sequence[str], refs: Sequence[str | Sequence[str]], n: int = 4, sigma: float = 6.0) -> float:
    """Mean of `cider_d_each`."""
    each = cider_d_each(hyps, refs, n, sigma)
    return sum(each) / len(each) if each else 0.0


def cider_d_each(hyps: Sequence[str], refs: Sequence[str | Sequence[str]], n: int = 4,
                 sigma: float = 6.0) -> list[float]:
    """CIDEr-D (Vedantam et al. 2015, as in the COCO caption toolkit), scaled by 10 like the toolkit.

    Each caption is a tf-idf vector of its 1..n-grams, document frequencies taken from the reference set;
    per n the hypothesis' weights are clipped to the reference's (so repeating a word gains nothing), the
    cosine is damped by a Gaussian of the length difference, averaged over n and over references.
    """
    if not hyps:
        return []
    ref_sets = [[r] if isinstance(r, str) else list(r) for r in refs]
    if len(ref_sets) != len(hyps):
        raise ValueError("one reference set per hypothesis")
    ref_tokens = [[tokenize(r) for r in rs] for rs in ref_sets]
    ref_counts = [[_all_ngrams(t, n) for t in rts] for rts in ref_tokens]
    df: Counter[tuple[str, ...]] = Counter()
    for counts in ref_counts:
        df.update({g for c in counts for g in c})
    log_docs = math.log(float(len(ref_sets)))

    def vector(counts: Counter[tuple[str, ...]]) -> tuple[list[dict[tuple[str, ...], float]], list[float]]:
        vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
        norm = [0.0] * n
        for gram, tf in counts.items():
            weight = tf * (log_docs - math.log(max(1.0, df[gram])))
            vec[len(gram) - 1][gram] = weight
            norm[len(gram) - 1] += weight * weight
        return vec, [math.sqrt(x) for x in norm]

    out = []
    for hyp, rts, rcs in zip(hyps, ref_tokens, ref_counts, strict=True):
        h_tokens = tokenize(hyp)
        h_vec, h_norm = vector(_all_ngrams(h_tokens, n))
        score = 0.0
        for r_tokens, r_count in zip(rts, rcs, strict=True):
            r_vec, r_norm = vector(r_count)
            penalty = math.exp(-((len(h_tokens) - len(r_tokens)) ** 2) / (2 * sigma**2))
            for k in range(n):
                val = sum(min(w, r_vec[k].get(g, 0.0)) * r_vec[k].get(g, 0.0) for g, w in h_vec[k].items())
                if h_norm[k] and r_norm[k]:
                    val /= h_norm[k] * r_norm[k]
                score += val * penalty
        out.append(score / n / len(rts) * 10.0)
    return out


def _all_ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for k in range(1, n + 1):
        out.update(_ngrams(tokens, k))
    return out


# -- diversity and length -----------------------------------------------------------------------


def distinct_2(hyps: Sequence[str]) -> float:
    """Distinct bigrams over all bigrams of all hypotheses (0-1): low means the model repeats itself."""
    grams: Counter[tuple[str, ...]] = Counter()
    for hyp in hyps:
        grams.update(_ngrams(tokenize(hyp), 2))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def mean_length(texts: Sequence[str]) -> float:
    """Mean length in tokens (words and emojis)."""
    return sum(len(tokenize(t)) for t in texts) / len(texts) if texts else 0.0


# -- old vs new on the same held-out posts: paired bootstrap --------------------------------------

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261127


@dataclass
class Judged:
    """One model's result on one held-out post through the caption stage."""

    chosen: str  # the caption the stage chose, its own words ("" when no candidate passed the rules)
    candidates: int  # every candidate written for it (all rounds)
    refused: int  # of which the rules refused


@dataclass
class Compared:
    """A metric for the old and the new model, and the interval of new - old over resampled post sets."""

    old: float
    new: float
    low: float
    high: float
    p_not_better: float  # share of resamples where new - old <= 0 (for a lower-is-better metric: >= 0)
    higher_is_better: bool = True

    @property
    def change(self) -> float:
        return self.new - self.old

    def to_json(self) -> dict[str, Any]:
        return {"old": _r(self.old), "new": _r(self.new), "change": _r(self.change), "low": _r(self.low),
                "high": _r(self.high), "p_not_better": _r(self.p_not_better),
                "higher_is_better": self.higher_is_better}


def _r(x: float) -> float:
    return round(float(x), 4)


# Each metric: a function of the posts' indices and which model's results, over precomputed per-post parts.
Metric = Callable[[Sequence[int], str], float]


def metrics_for(old: Sequence[Judged], new: Sequence[Judged], refs: Sequence[str]) -> dict[str, tuple[Metric, bool]]:
    """Every gate metric as (function of resampled post indices and side, higher is better)."""
    sides = {"old": old, "new": new}
    hyps = {k: [j.chosen for j in v] for k, v in sides.items()}
    stats = {k: bleu_stats(h, refs) for k, h in hyps.items()}
    cider = {k: cider_d_each(h, refs) for k, h in hyps.items()}
    rouge = {k: rouge_l_each(h, refs) for k, h in hyps.items()}
    lengths = {k: [len(tokenize(t)) for t in h] for k, h in hyps.items()}
    bigrams = {k: [_ngrams(tokenize(t), 2) for t in h] for k, h in hyps.items()}

    def mean(values: dict[str, list[float]]) -> Metric:
        return lambda idx, side: sum(values[side][i] for i in idx) / len(idx) if idx else 0.0

    def distinct(idx: Sequence[int], side: str) -> float:
        grams: Counter[tuple[str, ...]] = Counter()
        for i in idx:
            grams.update(bigrams[side][i])
        total = sum(grams.values())
        return len(grams) / total if total else 0.0

    def refused(idx: Sequence[int], side: str) -> float:
        total = sum(sides[side][i].candidates for i in idx)
        return sum(sides[side][i].refused for i in idx) / total if total else 0.0

    no_caption = {k: [0.0 if j.chosen else 1.0 for j in v] for k, v in sides.items()}
    return {
        "bleu": (lambda idx, side: bleu_from_stats([stats[side][i] for i in idx]), True),
        "cider": (mean(cider), True),
        "rouge_l": (mean(rouge), True),
        "distinct_2": (distinct, True),
        "refused_share": (refused, False),
        "no_caption_share": (mean(no_caption), False),
        "mean_length": (mean({k: [float(x) for x in v] for k, v in lengths.items()}), True),
    }


def paired_bootstrap(metric: Metric, n: int, *, higher_is_better: bool = True, confidence: float = 0.95,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Compared:
    """Paired bootstrap over posts (Koehn 2004): draw n posts with replacement, score both models on the same
    draw, repeat; the interval is the central `confidence` share of the new - old differences."""
    everything = list(range(n))
    old, new = metric(everything, "old"), metric(everything, "new")
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        diffs.append(metric(idx, "new") - metric(idx, "old"))
    diffs.sort()
    tail = (1 - confidence) / 2
    low = diffs[math.floor(tail * (resamples - 1))]
    high = diffs[math.ceil((1 - tail) * (resamples - 1))]
    worse = sum(d <= 0 for d in diffs) if higher_is_better else sum(d >= 0 for d in diffs)
    return Compared(old, new, low, high, worse / resamples, higher_is_better)


def compare(old: Sequence[Judged], new: Sequence[Judged], refs: Sequence[str], *, confidence: float = 0.95,
            resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Compared]:
    """Every metric, old vs new, with its paired-bootstrap interval over the held-out posts."""
    if not (len(old) == len(new) == len(refs)) or not refs:
        raise ValueError("old, new and references must be non-empty and line up")
    return {name: paired_bootstrap(fn, len(refs), higher_is_better=up, confidence=confidence, resamples=resamples)
            for name, (fn, up) in metrics_for(old, new, refs).items()}
