"""The training loop: a time budget shortens training, and the report says so."""

from __future__ import annotations

from tests.training.conftest import retrain_sections


def test_a_time_budget_shortens_training_and_says_so(make_home, writer_models):
    from bot.runtime.ml import Runtime
    from training.backend import Backend, Sample
    from training.finetune import train
    from training.plan import plan

    config, _ = make_home(retrain_sections(writer_models))
    backend = Backend("writer", config.models.writer, Runtime("cpu", "float32"))
    backend.load()
    samples = [Sample(key=str(i), prompt="Caption:", target="Lola naps.") for i in range(16)]
    budget = plan(16, config.retrain, budget_seconds=1e-6)
    report = train(backend, samples, config, plan=budget)
    # The first step always runs; then the budget is spent, so training stops there and says so.
    assert report.budget_limited and report.budget_reached and report.steps == 1 < report.total_steps == budget.steps
    backend.unload()
