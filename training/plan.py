"""How much a retrain trains: optimizer steps, learning rate and schedule, from the number of training
examples and the time budget, and whether what was done is enough to expect the model to change at all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bot.config import RetrainConfig

# Passes over the training captions: the least training that taught the voice. benchmarks/retrain_quality.py
# on the real 135M writer, 62 captions, peak rate 2e-3: 10 steps (1.3 passes) taught it with no copying and
# fewer refusals; 12 steps (1.55 passes) as well, but 2 more of 40 candidates refused; 40 steps (5.2 passes,
# loss 0.09) had memorised the captions: 90 % of the chosen ones were copies, 79 % of candidates refused.
PASSES = 1.25
# Peak LoRA learning rate for short runs; longer runs use less (the square root of the step ratio).
PEAK_LR = 2e-3
REFERENCE_STEPS = 50
MIN_LR = 2e-4
WARMUP_SHARE = 0.05
# How far training moved the adapter: the sum of the learning rate over the steps done. The recorded runs
# (benchmarks/RESULTS.md) at 2e-4: 13 steps (sum 0.0013) changed nothing the owner sees, 39 steps (0.0039) did;
# retrain_quality's 10 steps at 2e-3 (0.011) taught the voice. Below this sum no change is to be expected.
ENOUGH_LR_SUM = 0.0025


@dataclass
class Plan:
    """What `training.finetune.train` does: `steps` optimizer steps of `batch_size`, linear warm-up over
    `warmup_steps`, then cosine decay from `learning_rate` to a tenth of it; stops at `budget_seconds`."""

    examples: int
    batch_size: int
    wanted_steps: int  # what the data asks for
    steps: int  # what is planned (the config may force it)
    learning_rate: float
    warmup_steps: int
    budget_seconds: float | None
    schedule: str = "warmup + cosine to 10%"

    def lr_sum(self, done: int) -> float:
        return sum(self.lr_at(s, done) for s in range(done))

    def epochs(self, steps: int | None = None) -> float:
        done = self.steps if steps is None else steps
        return round(done * self.batch_size / max(1, self.examples), 2)

    def lr_at(self, step: int, total: int | None = None) -> float:
        """The learning rate multiplier's target at 0-based `step` of `total` (default: the planned steps)."""
        total = max(1, total or self.steps)
        warm = min(self.warmup_steps, total)
        if step < warm:
            return self.learning_rate * (step + 1) / warm
        progress = (step - warm) / max(1, total - warm)
        return self.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def too_little(self, done: int) -> str | None:
        """Why `done` steps (at this plan's learning rate) are too little to expect a change, or None."""
        moved = self.lr_sum(done)
        if moved >= ENOUGH_LR_SUM:
            return None
        return (f"only {done} training step(s) at learning rate {self.learning_rate:g} (the data asks for "
                f"{self.wanted_steps}; {self.epochs(done):g} passes over {self.examples} captions, learning-rate "
                f"sum {moved:.4f} < {ENOUGH_LR_SUM}): too little training to expect a change")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "epochs": self.epochs()}


def wanted_steps(examples: int, batch_size: int) -> int:
    """Optimizer steps the data asks for: PASSES passes over the training captions."""
    return max(1, math.ceil(PASSES * examples / batch_size))


def learning_rate(steps: int) -> float:
    return max(MIN_LR, PEAK_LR * min(1.0, math.sqrt(REFERENCE_STEPS / max(1, steps))))


def plan(examples: int, retrain: RetrainConfig, *, budget_seconds: float | None = None) -> Plan:
    """The plan for `examples` training samples under the [retrain] settings."""
    batch = min(retrain.batch_size, max(1, examples))
    wanted = wanted_steps(examples, batch)
    steps = wanted if retrain.steps == "auto" else int(retrain.steps)
    lr = learning_rate(steps) if retrain.learning_rate == "auto" else float(retrain.learning_rate)
    warmup = max(1, math.ceil(steps * WARMUP_SHARE))
    budget = retrain.time_budget_minutes * 60 if budget_seconds is None else budget_seconds
    return Plan(examples=examples, batch_size=batch, wanted_steps=wanted, steps=steps, learning_rate=lr,
                warmup_steps=warmup, budget_seconds=budget)
