"""The model being tuned: LoRA goes on the language model, never on the vision tower."""

from __future__ import annotations


def test_lora_goes_on_the_language_model_only(vlm_models):
    from transformers import AutoModelForImageTextToText

    from training.backend import lora_targets

    model = AutoModelForImageTextToText.from_pretrained(vlm_models["captioner"])
    targets = lora_targets(model)
    assert targets and all("vision" not in t and "connector" not in t for t in targets)
    assert any(t.endswith("q_proj") for t in targets) and any(t.endswith("down_proj") for t in targets)
