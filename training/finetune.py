"""LoRA fine-tuning of the active caption backend on (the daemon's prompt -> the caption as posted).

The chat VLM learns from photo + prompt, the describer+writer pair's writer from description + prompt; the loss
covers the caption tokens only. The speed path (the same on a CPU, in fp32): batches of similar length padded on
the left (so every caption ends at the last position and only the caption's logits are computed), a frozen vision
tower's image features computed once per photo, fused AdamW on CUDA, gradient checkpointing only when the GPU
memory budget needs it, no host sync per step. `retrain.time_budget_minutes` bounds training; SIGTERM stops it
between steps. This module is the training loop; the model's side of it (encoding, batches, loss, LoRA) is
`training.backend`.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import Config
from training.backend import Backend, Sample
from training.speed import FeatureCache, attention_of, batch_order, needs_checkpointing, steps_within

if TYPE_CHECKING:
    from training.plan import Plan

log = logging.getLogger(__name__)

# phase ("describe", "train", "evaluate"), done, total, latest loss (train only)
ProgressFn = Callable[[str, int, int, float | None], None]

clock = time.monotonic  # the training loop's clock (tests replace it)
# Of the time budget, what training may use; evaluating old and new on the holdout follows.
TRAIN_SHARE = 0.85
LOSS_SYNC_EVERY = 10  # steps between reading the loss back from the device (each read waits for the GPU)


@contextmanager
def stop_on_sigterm() -> Iterator[threading.Event]:
    """An event set by SIGTERM (systemd stopping the job), so training ends at the next step, not mid-write."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class TrainReport:
    steps: int
    total_steps: int
    epochs: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    stopped: bool = False
    budget_limited: bool = False  # the time budget cut the planned steps
    trainable_params: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    epochs_done: float = 0.0  # fraction of epochs trained, e.g. 0.4 when the time budget ended the first
    budget_reached: bool = False  # retrain.time_budget_minutes ended training early (it is still evaluated)
    checkpointing: bool = False
    attention: str = ""
    image_features: str = ""  # for a VLM: "once per photo" or "every step"
    tokens: int = 0  # real tokens trained on, and padded positions computed, over all steps
    padded_tokens: int = 0

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


def train(backend: Backend, samples: list[Sample], config: Config, *, progress: ProgressFn | None = None,
          stop: threading.Event | None = None, plan: Plan | None = None) -> TrainReport:
    """Fine-tune the backend's 'default' adapter on `samples`: `plan`'s steps, learning rate and schedule
    (`training.plan`), or `retrain.epochs` passes without one; stops early when `stop` is set (`report.stopped`).

    Training ends at TRAIN_SHARE of the time budget (the plan's, else `retrain.time_budget_minutes`), leaving the
    rest for the evaluation; the schedule is re-aimed at the step the budget will end (`report.budget_reached`,
    `report.epochs_done`).
    """
    import torch

    from bot.captions.generate import to_device
    from training.plan import Plan as _Plan

    r = config.retrain
    if plan is None:
        steps = math.ceil(len(samples) / r.batch_size) * r.epochs
        lr = r.learning_rate if isinstance(r.learning_rate, float) else 2e-4
        plan = _Plan(examples=len(samples), batch_size=r.batch_size, wanted_steps=steps, steps=steps,
                     learning_rate=lr, warmup_steps=max(1, steps // 20), budget_seconds=None)
    device = backend.runtime.device
    cuda = device.startswith("cuda")
    encoded = [backend.encode(s) for s in samples]
    checkpointing = cuda and needs_checkpointing(backend, encoded, config)
    torch.manual_seed(0)  # the adapter's initial weights: the same data and plan train the same model
    trainable = backend.add_lora(r.lora_rank, checkpointing=checkpointing)
    params = [p for p in backend.model.parameters() if p.requires_grad]
    # Fused: one kernel for every LoRA tensor's update instead of several per tensor.
    optimizer = torch.optim.AdamW(params, lr=plan.learning_rate, weight_decay=0.0, fused=cuda)
    steps_per_epoch = math.ceil(len(samples) / plan.batch_size)
    total = plan.steps
    horizon = [total]  # the step the schedule ends at: sooner when the time budget ends training sooner
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                 lambda s: plan.lr_at(s, horizon[0]) / plan.learning_rate)
    features = FeatureCache(backend, encoded)
    report = TrainReport(steps=0, total_steps=total, epochs=math.ceil(total / steps_per_epoch), seconds=0.0,
                         trainable_params=trainable, device=device,
                         dtype=str(backend.runtime.dtype).removeprefix("torch."), checkpointing=checkpointing,
                         attention=attention_of(backend.model), image_features=features.mode)
    autocast = (torch.autocast("cuda", dtype=backend.runtime.dtype) if cuda
                else torch.autocast("cpu", enabled=False))
    lengths = [int(e["input_ids"].shape[1]) for e in encoded]
    generator = torch.Generator().manual_seed(0)
    started = clock()
    budget = plan.budget_seconds if plan.budget_seconds is not None else r.time_budget_minutes * 60
    deadline = started + budget * TRAIN_SHARE
    pending: list[Any] = []  # this stretch's losses, still on the device
    backend.model.train()
    while report.steps < total and encoded and not (report.stopped or report.budget_reached):
        for order in batch_order(lengths, plan.batch_size, generator):
            if stop is not None and stop.is_set():
                report.stopped = True
                break
            if report.steps >= total:
                break
            if report.steps and clock() >= deadline:
                report.budget_reached = True
                break
            batch = [encoded[i] for i in order]
            n_tokens = sum(int((e["labels"] != -100).sum()) for e in batch)
            step_loss = torch.zeros((), device=device)
            for micro in backend.collate(batch, features.get(order)):
                report.tokens += int(micro["attention_mask"].sum())
                report.padded_tokens += int(micro["attention_mask"].numel())
                micro = to_device(micro, device, backend.runtime.dtype)
                with autocast:
                    loss = backend.loss(micro, n_tokens)
                loss.backward()
                step_loss += loss.detach()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            report.steps += 1
            pending.append(step_loss)
            if len(pending) >= LOSS_SYNC_EVERY or report.steps == total:
                report.losses.extend(torch.stack(pending).tolist())  # the one read back per stretch
                pending.clear()
            horizon[0] = steps_within(report.steps, total, clock() - started, deadline - started)
            if progress:
                progress("train", report.steps, total, report.losses[-1] if report.losses else None)
    if pending:
        report.losses.extend(torch.stack(pending).tolist())
    report.seconds = clock() - started
    report.epochs_done = report.steps / steps_per_epoch
    report.budget_limited = report.budget_reached
    if report.budget_reached:
        log.info("training reached its time budget after %d of %d steps (%.2f epochs)", report.steps, total,
                 report.epochs_done)
    backend.model.eval()
    return report
