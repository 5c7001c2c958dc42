"""LoRA skips vision, and a time budget shortens training."""

from __future__ import annotations

from tests.training.conftest import retrain_sections


def test_lora_goes_on_the_language_model_only(vlm_models):
    from transformers import AutoModelForImageTextToText

    from training.finetune import lora_targets

    model = AutoModelForImageTextToText.from_pretrained(vlm_models["captioner"])
    targets = lora_targets(model)
    assert targets and all("vision" not in t and "connector" not in t for t in targets)
    assert any(t.endswith("q_proj") for t in targets) and any(t.endswith("down_proj") for t in targets)


def test_a_time_budget_shortens_training_and_says_so(make_home, writer_models):
    from bot.ml import Runtime
    from training.finetune import Backend, Sample, train
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
