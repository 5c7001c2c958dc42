"""How much a retrain trains: steps from the number of examples, learning rate from the steps, the budget."""

from __future__ import annotations

import pytest

from bot.config import RetrainConfig
from training.plan import MAX_EPOCHS, MIN_EXAMPLES_SEEN, plan


def test_steps_come_from_the_dataset_size_not_a_fixed_epoch_count():
    r = RetrainConfig(batch_size=8)
    small, medium, large = plan(20, r), plan(65, r), plan(3000, r)
    # A small account is seen many times over (but never more than MAX_EPOCHS passes) ...
    assert small.steps * 8 <= MAX_EPOCHS * 20 + 8 and small.epochs() > 3
    # ... a medium one until MIN_EXAMPLES_SEEN captions were seen, a large one twice.
    assert medium.steps == -(-MIN_EXAMPLES_SEEN // 8) and medium.epochs() > 4
    assert large.steps == 750 and large.epochs() == 2.0
    # Longer runs take smaller steps; every plan warms up, then decays.
    assert small.learning_rate >= medium.learning_rate > large.learning_rate
    assert large.lr_at(0) < large.lr_at(large.warmup_steps) == pytest.approx(large.learning_rate)
    assert large.lr_at(large.steps - 1) == pytest.approx(large.learning_rate * 0.1, rel=0.01)


def test_the_config_can_force_steps_and_learning_rate():
    forced = plan(65, RetrainConfig(steps=10, learning_rate=0.02))
    assert (forced.steps, forced.learning_rate) == (10, 0.02)
    assert forced.wanted_steps == plan(65, RetrainConfig()).wanted_steps


def test_too_little_training_is_named():
    p = plan(65, RetrainConfig())
    assert p.too_little(p.steps) is None
    why = p.too_little(10)
    assert why and f"only 10 training step(s) of the {p.wanted_steps}" in why and "too little training" in why


def test_the_budget_is_the_config_s_minutes_unless_given():
    assert plan(65, RetrainConfig(time_budget_minutes=30)).budget_seconds == 1800
    assert plan(65, RetrainConfig(), budget_seconds=12.0).budget_seconds == 12.0
