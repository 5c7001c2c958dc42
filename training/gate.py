"""The promotion gate: the old and the new caption model write for the held-out posts through the product's
own caption stage (prompts, rules, ranking, several candidates, fixed seeds), and the new one is promoted only
when its chosen captions are better beyond the noise and the rules refuse no more of its candidates.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Config, RetrainConfig
from bot.runtime.ml import Runtime
from bot.store.database import Store
from bot.store.states import DraftStatus
from training.dataset import Example, clean_caption
from training.evaluate import BOOTSTRAP_RESAMPLES, Compared, Judged, compare

EVAL_SEED = 1234  # both models write with the same seeds, batches and settings
SHOWN_SAMPLES = 5
LABELS = {"bleu": "BLEU", "cider": "CIDEr-D", "rouge_l": "ROUGE-L"}


@dataclass
class Written:
    """What one model wrote for the held-out posts, in their order."""

    judged: list[Judged]
    captions: list[str | None]  # the chosen caption as the owner would see it (None: nothing passed)
    examples: list[list[str]]  # the style examples its prompt showed
    reasons: list[list[str]]  # why candidates were refused
    prompts: list[str]  # each post's full prompt, as recorded with a draft


@dataclass
class Verdict:
    promote: bool
    reason: str
    checks: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def past_before(store: Store, holdout: list[Example]) -> Iterator[Store]:
    """A throw-away copy of the database as it was before the first held-out post: its caption, and every
    later one, are not among the past captions the stage shows as style examples or checks for copies."""
    cutoff = min(e.at for e in holdout)
    with tempfile.TemporaryDirectory(prefix="pawpost-gate-") as tmp:
        path = Path(tmp) / "pawpost.db"
        target = sqlite3.connect(path)
        with target:
            store.db.backup(target)
        target.execute("PRAGMA foreign_keys = OFF")
        with target:
            target.execute("UPDATE drafts SET status = ? WHERE status = ? AND posted_at >= ?",
                           (DraftStatus.REJECTED, DraftStatus.POSTED, cutoff))
            target.execute("DELETE FROM imported_posts WHERE taken_at >= ?", (cutoff,))
        target.close()
        snapshot = Store(path, data_dir=store.data_dir)  # library paths resolve to the real photos
        try:
            yield snapshot
        finally:
            snapshot.close()


def write_holdout(store: Store, config: Config, runtime: Runtime, holdout: list[Example], *,
                  adapter_dir: Path | None, style_examples: int | None, seed: int = EVAL_SEED,
                  stop: threading.Event | None = None, progress: Any = None, done: int = 0,
                  total: int = 0) -> Written | None:
    """Captions for every held-out post by one model, exactly as the daemon would write them.
    None when `stop` was set meanwhile."""
    from bot.captions import context
    from bot.captions.generate import chunks
    from bot.captions.stage import Captioner, caption_photos

    captioner = Captioner(config, runtime, adapter_dir=adapter_dir, style_examples=style_examples)
    out = Written([], [], [], [], [])
    try:
        for n, batch in enumerate(chunks(holdout, config.models.batch_size)):
            if stop is not None and stop.is_set():
                return None
            jobs = [context.load_post(store, config, e.photo_ids or [e.photo_id], hint=e.hint) for e in batch]
            # Each batch its own fixed seed, so old and new write from the same random numbers.
            for outcome in caption_photos(store, config, captioner, jobs, seed=seed + 1000 * n):
                best = outcome.best
                refused = [c for c in outcome.candidates if not c.passed]
                out.judged.append(Judged(clean_caption(best.text).text if best else "", len(outcome.candidates),
                                         len(refused)))
                out.captions.append(best.text if best else None)
                out.examples.append(list(outcome.job.examples))
                out.reasons.append([c.reason or "" for c in refused])
                out.prompts.append(outcome.prompt.record())
            if progress:
                progress("evaluate", done + len(out.judged), total, None)
    finally:
        captioner.unload()
    return out


def judge(store: Store, config: Config, runtime: Runtime, holdout: list[Example], *, new_adapter: Path,
          old_adapter: Path | None, old_style_examples: int | None, stop: threading.Event | None = None,
          progress: Any = None) -> dict[str, Any] | None:
    """Old and new through the caption stage on the held-out posts, compared metric by metric."""
    refs = [e.caption for e in holdout]
    total = 2 * len(holdout)
    with past_before(store, holdout) as past:
        new = write_holdout(past, config, runtime, holdout, adapter_dir=new_adapter,
                            style_examples=config.retrain.style_examples, stop=stop, progress=progress, total=total)
        if new is None:
            return None
        old = write_holdout(past, config, runtime, holdout, adapter_dir=old_adapter,
                            style_examples=old_style_examples, stop=stop, progress=progress, done=len(holdout),
                            total=total)
        if old is None:
            return None
    compared = compare(old.judged, new.judged, refs, confidence=config.retrain.confidence)
    return {
        "compared": compared,
        "old_written": old,
        "new_written": new,
        "samples": [{"reference": r, "old": o, "new": n}
                    for r, o, n in list(zip(refs, old.captions, new.captions, strict=True))[:SHOWN_SAMPLES]],
    }


def method(holdout: int, confidence: float) -> str:
    return (f"paired bootstrap over the {holdout} held-out posts ({BOOTSTRAP_RESAMPLES} resamples, "
            f"{confidence:.0%} interval of new - old); the chosen caption of each post through the caption stage")


def decide(compared: dict[str, Compared], retrain: RetrainConfig, holdout: int,
           too_little: str | None = None) -> Verdict:
    """Promote only when: enough held-out posts, the primary metric's interval lies above `min_improvement`,
    and the share of refused candidates did not rise by more than `max_refusal_rise`."""
    checks: list[dict[str, Any]] = []
    size_ok = holdout >= retrain.min_holdout_posts
    checks.append({"check": "held-out posts", "passed": size_ok,
                   "detail": f"{holdout} (at least {retrain.min_holdout_posts}, retrain.min_holdout_posts)"})
    metric = retrain.primary_metric
    m = compared[metric]
    label = LABELS.get(metric, metric)
    gain_ok = m.low > retrain.min_improvement
    interval = f"{retrain.confidence:.0%} interval {m.low:+.3f} to {m.high:+.3f}"
    checks.append({"check": f"{label} gain beyond the noise", "passed": gain_ok,
                   "detail": f"{m.old:.3f} -> {m.new:.3f} ({m.change:+.3f}; {interval})"})
    r = compared["refused_share"]
    refusal_ok = r.change <= retrain.max_refusal_rise + 1e-9
    checks.append({"check": "refused candidates do not rise", "passed": refusal_ok,
                   "detail": f"{r.old:.1%} -> {r.new:.1%} (allowed rise {retrain.max_refusal_rise:.1%}, "
                             "retrain.max_refusal_rise)"})
    if not size_ok:
        reason = (f"only {holdout} held-out post(s), too few to tell a better model from luck (at least "
                  f"{retrain.min_holdout_posts}, retrain.min_holdout_posts); the next retrain has more history "
                  "(post more, or run 'pawpost history import')")
    elif not gain_ok:
        # The whole interval below zero is a worse model, not noise: say which it is.
        verdict = "is worse" if m.high < 0 else "is within the noise"
        reason = (f"{label} of the chosen captions {m.old:.3f} -> {m.new:.3f} ({m.change:+.3f}) {verdict} "
                  f"({interval}, needs to lie above {retrain.min_improvement:g})")
    elif not refusal_ok:
        reason = f"the rules refuse more of its candidates ({r.old:.1%} -> {r.new:.1%})"
    else:
        reason = (f"{label} of the chosen captions {m.old:.3f} -> {m.new:.3f} ({interval}), refused candidates "
                  f"{r.old:.1%} -> {r.new:.1%}")
    promote = size_ok and gain_ok and refusal_ok
    if too_little and not promote:
        reason = f"{reason}; {too_little}"
    return Verdict(promote, reason, checks)
