"""Caption metrics on held-out posts: BLEU, ROUGE-L, CIDEr-D, distinct-2, rule rejections and mean length.

All computed here, offline: BLEU through sacrebleu, the others implemented below (no Java, no downloads).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Config

if TYPE_CHECKING:
    from training.dataset import Dataset
    from training.finetune import Backend, ProgressFn
    from training.retrain import Prompts

METRICS = ("cider", "bleu", "rouge_l", "distinct_2", "rejected_share", "mean_length")

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
    scores = []
    for hyp, ref in zip(hyps, refs, strict=True):
        h, r = tokenize(hyp), tokenize(ref)
        lcs = _lcs(h, r)
        if lcs == 0:
            scores.append(0.0)
            continue
        prec, rec = lcs / len(h), lcs / len(r)
        scores.append((1 + beta**2) * prec * rec / (rec + beta**2 * prec))
    return sum(scores) / len(scores) if scores else 0.0


# -- CIDEr-D ------------------------------------------------------------------------------------


def cider_d(hyps: Sequence[str], refs: Sequence[str | Sequence[str]], n: int = 4, sigma: float = 6.0) -> float:
    """CIDEr-D (Vedantam et al. 2015, as in the COCO caption toolkit), scaled by 10 like the toolkit.

    Each caption is a tf-idf vector of its 1..n-grams, document frequencies taken from the reference set;
    per n the hypothesis' weights are clipped to the reference's (so repeating a word gains nothing), the
    cosine is damped by a Gaussian of the length difference, averaged over n and over references.
    """
    if not hyps:
        return 0.0
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

    total = 0.0
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
        total += score / n / len(rts) * 10.0
    return total / len(hyps)


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


def score(hyps: Sequence[str], refs: Sequence[str], rejected: Sequence[bool]) -> dict[str, float]:
    """Every metric for one model's captions on the held-out posts."""
    if not (len(hyps) == len(refs) == len(rejected)):
        raise ValueError("hypotheses, references and rejections must line up")
    return {
        "cider": cider_d(hyps, refs),
        "bleu": bleu(hyps, refs),
        "rouge_l": rouge_l(hyps, refs),
        "distinct_2": distinct_2(hyps),
        "rejected_share": sum(map(bool, rejected)) / len(rejected) if rejected else 0.0,
        "mean_length": mean_length(hyps),
        "examples": float(len(hyps)),
    }


# -- old model vs new model on the held-out posts -----------------------------------------------

EVAL_SEED = 1234  # every model is judged with the same seeds, batches and settings
SHOWN_SAMPLES = 5


def judge(backend: Backend, config: Config, data: Dataset, prompter: Prompts, *, old_adapter: Path | None,
          progress: ProgressFn | None = None, stop: threading.Event | None = None) -> dict[str, Any] | None:
    """Metrics of the new adapter and of the model in use now (`old_adapter`, or the base model when None).

    Text metrics use each photo's first candidate (hashtags, mentions and links removed like the references);
    `rejected_share` counts every candidate the caption rules refuse. None when `stop` was set meanwhile.
    """
    from bot.captions.rules import check_candidate, rule_context
    from training.dataset import clean_caption
    from training.retrain import sample_for

    holdout = data.holdout
    prompts = [prompter(e) for e in holdout]
    samples = [sample_for(backend, prompter, e) for e in holdout]
    special = list(backend.tokenizer.all_special_tokens)
    contexts = [rule_context(config, p, prompter.past(e), special) for e, p in zip(holdout, prompts, strict=True)]
    refs = [e.caption for e in holdout]
    if old_adapter is not None:
        backend.load_adapter(old_adapter, "old")
    size = config.models.batch_size
    out: dict[str, Any] = {}
    texts: dict[str, list[str]] = {}
    done = 0
    for label, adapter in (("new", "default"), ("old", "old" if old_adapter is not None else None)):
        hyps: list[str] = []
        rejected: list[bool] = []
        with backend.using(adapter):
            for first in range(0, len(holdout), size):
                if stop is not None and stop.is_set():
                    return None
                batch = slice(first, first + size)
                for cands, ctx in zip(backend.write(samples[batch], prompts[batch], config, EVAL_SEED + first),
                                      contexts[batch], strict=True):
                    verdicts = [check_candidate(c, ctx) for c in cands]
                    hyps.append(clean_caption(verdicts[0].text).text)
                    rejected += [not v.passed for v in verdicts]
                done += len(samples[batch])
                if progress:
                    progress("evaluate", done, 2 * len(holdout), None)
        metrics = score(hyps, refs, [False] * len(hyps))
        metrics["rejected_share"] = sum(rejected) / len(rejected) if rejected else 0.0
        out[label] = metrics
        texts[label] = hyps
    out["samples"] = [{"reference": r, "old": o, "new": n}
                      for r, o, n in list(zip(refs, texts["old"], texts["new"], strict=True))[:SHOWN_SAMPLES]]
    return out
