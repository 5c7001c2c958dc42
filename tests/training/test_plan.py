"""How much a retrain trains: steps from the number of examples, learning rate from the steps, the budget."""

from __future__ import annotations

import pytest

from bot.config import RetrainConfig
from training.plan import PASSES, plan


def test_steps_come_from_the_dataset_size_not_a_fixed_epoch_count():
    r = RetrainConfig(batch_size=8)
    small, medium, large = plan(20, r), plan(62, r), plan(3000, r)
    # PASSES over the captions whatever their number (more memorises them: RESULTS.md, "Retraining quality").
    assert (small.steps, medium.steps, large.steps) == (4, 10, 469)
    assert all(abs(p.epochs() - PASSES) < 0.4 for p in (small, medium, large))
    # Longer runs take smaller steps; every plan warms up, then decays to a tenth.
    assert small.learning_rate == medium.learning_rate > large.learning_rate
    assert large.lr_at(0) < large.lr_at(large.warmup_steps) == pytest.approx(large.learning_rate)
    assert large.lr_at(large.steps - 1) == pytest.approx(large.learning_rate * 0.1, rel=0.01)


def test_the_config_can_force_steps_and_learning_rate():
    forced = plan(65, RetrainConfig(steps=10, learning_rate=0.02))
    assert (forced.steps, forced.learning_rate) == (10, 0.02)
    assert forced.wanted_steps == plan(65, RetrainConfig()).wanted_steps


def test_too_little_training_is_named_from_the_learning_rate_summed_over_the_steps():
    auto = plan(62, RetrainConfig())
    assert auto.too_little(auto.steps) is None
    assert auto.too_little(10) is None  # 10 steps at the automatic rate taught the voice (RESULTS.md)
    # The recorded run: one pass of 13 steps at 2e-4 changed nothing the owner sees.
    old = plan(104, RetrainConfig(steps=13, learning_rate=2e-4))
    why = old.too_little(13)
    assert why and "only 13 training step(s) at learning rate 0.0002" in why and "too little training" in why
    assert plan(104, RetrainConfig(steps=39, learning_rate=2e-4)).too_little(39) is None


def test_the_budget_is_the_config_s_minutes_unless_given():
    assert plan(65, RetrainConfig(time_budget_minutes=30)).budget_seconds == 1800
    assert plan(65, RetrainConfig(), budget_seconds=12.0).budget_seconds == 12.0
