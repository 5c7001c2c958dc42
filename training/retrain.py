"""One retrain run: enough new posts? build the dataset, fine-tune, judge old vs new, record, promote if better.

It holds the GPU lock from loading to the end of evaluation, so the daemon waits rather than competing for memory.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.captions.registry import (
    META,
    Decision,
    Registry,
    Version,
    caption_model,
    retrain_off,
    style_examples_for,
)
from bot.config import Config
from bot.errors import PawpostError
from bot.runtime.ml import GpuLock, Runtime
from bot.store.database import Store
from training import dataset as ds
from training.finetune import ProgressFn, TrainReport

log = logging.getLogger(__name__)

# How long a retrain waits for the daemon to finish a batch on the GPU before giving up.
GPU_LOCK_TIMEOUT = 30 * 60


@dataclass
class RetrainResult:
    """What a run did: skipped, stopped, kept (not promoted) or promoted; the gate's evidence old vs new."""

    status: str  # "off" | "skipped" | "stopped" | "kept" | "promoted"
    message: str
    new_posts: int
    version: Version | None = None
    old_label: str = "base model"
    old: dict[str, float] | None = None
    new: dict[str, float] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    train: TrainReport | None = None
    gate: dict[str, Any] | None = None  # per metric old/new/interval, the checks, the method
    plan: dict[str, Any] | None = None
    too_little: str | None = None  # why too little training happened to expect a change
    written: dict[str, Any] | None = None  # what each model wrote (training.gate.Written), not in the JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "promoted": self.status == "promoted",
            "new_posts": self.new_posts,
            "version": self.version.to_json() if self.version else None,
            "old_model": self.old_label,
            "old": self.old,
            "new": self.new,
            "gate": self.gate,
            "counts": self.counts,
            "plan": self.plan,
            "too_little_training": self.too_little,
            "train": None if self.train is None else {
                "steps": self.train.steps, "total_steps": self.train.total_steps, "epochs": self.train.epochs,
                "seconds": round(self.train.seconds, 2), "final_loss": self.train.final_loss,
                "seconds_per_step": round(self.train.seconds / self.train.steps, 2) if self.train.steps else None,
                "budget_limited": self.train.budget_limited,
                "trainable_params": self.train.trainable_params, "device": self.train.device,
                "dtype": self.train.dtype, "epochs_done": round(self.train.epochs_done, 3),
                "budget_reached": self.train.budget_reached,
            },
        }


def count_new(examples: list[ds.Example], seen: set[str]) -> int:
    return sum(e.key not in seen for e in examples)


def retrain(store: Store, config: Config, *, runtime: Runtime | None = None, progress: ProgressFn | None = None,
            stop: threading.Event | None = None, force: bool = False) -> RetrainResult:
    """The whole run. Fewer than `retrain.min_new_posts` new posts since the last run: skipped (unless forced).
    Too few posts for a held-out set the gate can decide on: skipped, whatever `force` says."""
    registry = Registry(config)
    off = retrain_off(config)
    if off:
        return RetrainResult("off", off, 0)
    collected = ds.collect(store, need_photo=True)
    last = registry.last_run()
    new_posts = count_new(collected[0], set(registry.examples(last)) if last else set())
    needed = config.retrain.min_new_posts
    if new_posts < needed and not force:
        since = f"since the last retrain ({last.id})" if last else "and no retrain yet"
        return RetrainResult("skipped", f"{new_posts} new post(s) {since}; at least {needed} are needed "
                                        "(retrain.min_new_posts), so there is nothing to do", new_posts)
    r = config.retrain
    data = ds.build(store, config, collected=collected)
    if len(data.holdout) < r.min_holdout_posts:
        return RetrainResult(
            "skipped", f"{len(data.examples)} usable post(s) leave {len(data.holdout)} to judge a new model on, too "
                       f"few to tell a better model from luck (retrain.min_holdout_posts = {r.min_holdout_posts}); the "
                       f"model in use stays. About {3 * r.min_holdout_posts} posts are needed: post more, or run "
                       "'pawpost history import'", new_posts, counts=data.counts())
    runtime = runtime or Runtime.from_config(config)
    try:
        with GpuLock(config.paths.gpu_lock).hold(timeout=GPU_LOCK_TIMEOUT):
            return _run(store, config, registry, runtime, data, new_posts, progress, stop)
    except TimeoutError as exc:
        raise PawpostError(f"{exc}; try again later") from None


def _run(store: Store, config: Config, registry: Registry, runtime: Runtime, data: ds.Dataset, new_posts: int,
         progress: ProgressFn | None, stop: threading.Event | None) -> RetrainResult:
    from training import gate
    from training.backend import Backend
    from training.finetune import train
    from training.plan import plan as make_plan
    from training.prompts import Prompts, describe, sample_for

    started = time.monotonic()
    tuned = caption_model(config)
    kind, model_id = tuned.backend, tuned.model_id
    descriptions = describe(config, runtime, data.examples, progress) if kind == "writer" else {}
    prompts = Prompts(store, config, data.examples, descriptions, config.retrain.style_examples)
    backend = Backend(kind, model_id, runtime)
    backend.load()
    version = None
    counts = {**data.counts(), "new_posts": new_posts}
    try:
        train_samples = [sample_for(backend, prompts, e) for e in data.train]
        # The owner's own rewrites say most about the voice: they count twice.
        train_samples += [sample_for(backend, prompts, e) for e in data.train if e.edited]
        budget = config.retrain.time_budget_minutes * 60 - (time.monotonic() - started)
        plan = make_plan(len(train_samples), config.retrain, budget_seconds=max(1.0, budget))
        version = registry.create(kind, model_id, settings=_settings(config, plan))
        report = train(backend, train_samples, config, progress=progress, stop=stop, plan=plan)
        if report.stopped:
            registry.discard(version)
            return RetrainResult("stopped", f"stopped after {report.steps} of {report.total_steps} steps; nothing "
                                            "was changed", new_posts, counts=counts, train=report)
        backend.save_adapter(version.adapter_dir)
        backend.unload()  # the gate loads each model the way the daemon does
        in_use = registry.in_use()
        old_adapter = in_use.adapter_dir if in_use else None
        old_label = in_use.id if in_use else "base model"
        too_little = plan.too_little(report.steps)
        judged = gate.judge(store, config, runtime, data.holdout, new_adapter=version.adapter_dir,
                            old_adapter=old_adapter,
                            old_style_examples=style_examples_for(old_adapter) if old_adapter else None,
                            stop=stop, progress=progress)
        if judged is None:
            registry.discard(version)
            return RetrainResult("stopped", "stopped during evaluation; nothing was changed", new_posts,
                                 counts=counts, train=report)
        compared = judged["compared"]
        verdict = gate.decide(compared, config.retrain, len(data.holdout), too_little)
        evidence = {
            "method": gate.method(len(data.holdout), config.retrain.confidence),
            "primary_metric": config.retrain.primary_metric,
            "metrics": {k: v.to_json() for k, v in compared.items()},
            "checks": verdict.checks,
        }
        old = {k: round(v.old, 4) for k, v in compared.items()}
        new = {k: round(v.new, 4) for k, v in compared.items()}
        plan_json = {**plan.to_json(), "done_steps": report.steps, "done_epochs": plan.epochs(report.steps),
                     "budget_limited": report.budget_limited, "too_little_training": too_little}
        metrics = {"old": old, "new": new, "gate": evidence, "plan": plan_json, "samples": judged["samples"],
                   "old_model": old_label, "primary_metric": config.retrain.primary_metric,
                   "train_loss": report.final_loss, "train_seconds": round(report.seconds, 2)}
        version = registry.finish(version, metrics=metrics, counts=counts, keys=[e.key for e in data.examples],
                                  decision=Decision(verdict.promote, verdict.reason))
    except BaseException:
        if version is not None and not (version.path / META).exists():  # unfinished: never listed
            registry.discard(version)
        raise
    finally:
        backend.unload()
    if verdict.promote:
        message = f"{version.id} promoted: {verdict.reason}"
    else:
        message = f"{version.id} kept but not promoted ({old_label} stays in use): {verdict.reason}"
    if report.budget_reached:
        message += (f" (trained {report.epochs_done:.2f} of {plan.epochs():g} epochs: retrain.time_budget_minutes "
                    "ended training)")
    if too_little and verdict.promote:
        message += f" (note: {too_little})"
    return RetrainResult("promoted" if verdict.promote else "kept", message, new_posts, version=version,
                         old_label=old_label, old=old, new=new, counts=counts, train=report, gate=evidence,
                         plan=plan_json, too_little=too_little,
                         written={"old": judged["old_written"], "new": judged["new_written"]})


def _settings(config: Config, plan: Any) -> dict[str, Any]:
    r = config.retrain
    return {"steps": plan.steps, "learning_rate": plan.learning_rate, "lora_rank": r.lora_rank,
            "batch_size": plan.batch_size, "holdout_fraction": r.holdout_fraction,
            "style_examples": r.style_examples, "schedule": plan.schedule}
