"""bot/runtime/budget.py and bot/runtime/footprint.py: the batch planner, the budget, learned costs, the estimator."""

from __future__ import annotations

from typing import Any

import pytest

from bot.runtime.budget import Plan, StageCost, budget_mib, is_out_of_memory, plan_batches

GB = 1024.0


def stages(vision: float | None = 150.0, captions: float | None = 2000.0) -> list[StageCost]:
    return [StageCost("vision", 350.0, vision), StageCost("captions", 4300.0, captions)]


def test_the_batch_is_the_largest_that_fits_the_budget() -> None:
    # 11 GB budget: 500 context + 4,650 weights leave 6,114 MiB: 3 caption photos of 2,000, 8 (the most) of vision.
    plan = plan_batches(11 * GB, stages(), max_batch=8)
    assert plan.batches == {"vision": 8, "captions": 3}
    assert plan.fits and all(peak <= 11 * GB for peak in plan.peak_mib.values())
    assert plan.peak_mib["captions"] == pytest.approx(500 + 4650 + 3 * 2000)


def test_a_bigger_card_allows_bigger_batches_up_to_the_configured_most() -> None:
    sizes = [plan_batches(gb * GB, stages(), max_batch=8).batches["captions"] for gb in (8, 12, 16, 24, 48, 80)]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] == 8
    assert plan_batches(80 * GB, stages(), max_batch=4).batches["captions"] == 4


def test_too_small_a_budget_still_plans_one_photo_and_says_it_does_not_fit() -> None:
    plan = plan_batches(5 * GB, stages(), max_batch=8)
    assert plan.batches == {"vision": 1, "captions": 1}
    assert not plan.fits


def test_an_unknown_cost_starts_at_one_photo_and_caps_are_never_exceeded() -> None:
    plan = plan_batches(80 * GB, stages(captions=None), max_batch=8, caps={"vision": 2})
    assert plan.batches == {"vision": 2, "captions": 1}
    assert isinstance(plan, Plan)


def test_auto_budget_is_free_memory_minus_a_margin_and_other_processes_count() -> None:
    # An idle 11 GB card with 10.5 GB free: all of it less the 768 MiB margin.
    assert budget_mib("auto", free_mib=10.5 * GB, total_mib=11 * GB) == pytest.approx(10.5 * GB - 768)
    # What this process holds already is ours to use; what another process holds is not.
    assert budget_mib("auto", free_mib=4 * GB, total_mib=11 * GB, own_mib=6 * GB) == pytest.approx(10 * GB - 768)
    # On a big card the margin is 5 %.
    assert budget_mib("auto", free_mib=80 * GB, total_mib=80 * GB) == pytest.approx(76 * GB)
    # A fixed setting holds, and shrinks when the card has less free than that.
    assert budget_mib(8, free_mib=20 * GB, total_mib=24 * GB) == 8 * GB
    assert budget_mib(8, free_mib=5 * GB, total_mib=24 * GB) == pytest.approx(5 * GB - 1228.8)


def test_out_of_memory_errors_are_recognised_without_a_gpu() -> None:
    import torch

    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of range"))


def test_gpu_memory_gb_is_validated(home: Any) -> None:
    from bot.config import load_config
    from bot.errors import ConfigError
    from tests.conftest import write_config

    assert load_config(write_config(home, {"models": {"gpu_memory_gb": 10}})).models.gpu_memory_gb == 10
    assert load_config(write_config(home, {})).models.gpu_memory_gb == "auto"
    with pytest.raises(ConfigError, match="gpu_memory_gb"):
        load_config(write_config(home, {"models": {"gpu_memory_gb": "lots"}}))
    with pytest.raises(ConfigError, match="gpu_memory_gb"):
        load_config(write_config(home, {"models": {"gpu_memory_gb": 0.1}}))


# -- the planner on a runtime: CPU unchanged, lowered sizes and learned costs persist ----------------------------

class FakeRuntime:
    def __init__(self, device: str = "cpu") -> None:
        self.device, self.dtype = device, "torch.bfloat16"


def test_on_the_cpu_the_batch_is_models_batch_size(config: Any, store: Any) -> None:
    from bot.runtime.budget import BatchPlanner

    planner = BatchPlanner(store, config, FakeRuntime())
    assert planner.size("vision") == planner.size("captions") == config.models.batch_size


def test_a_lowered_batch_and_a_learned_cost_are_kept_in_the_database(config: Any, store: Any) -> None:
    from bot.runtime.budget import LEARN_BATCHES, BatchPlanner

    planner = BatchPlanner(store, config, FakeRuntime())
    assert planner.lowered("captions", 8) == 4
    assert planner.lowered("captions", 1) == 1
    planner.learn("captions", 900.0)
    planner.learn("captions", 1200.0)
    later = BatchPlanner(store, config, FakeRuntime())  # a restart
    assert later.cap("captions") == 1 and later.cap("vision") is None
    assert later.learned("captions") == 1200.0  # the largest of the first batches
    for _ in range(LEARN_BATCHES):
        later.learn("captions", 5000.0)
    assert later.learned("captions") == 5000.0  # the third batch still counts, then it is kept
    later.learn("captions", 9000.0)
    assert later.learned("captions") == 5000.0
    # Another caption model (or resolution) is another cost: nothing carried over.
    other = config.model_copy(deep=True)
    other.models.caption_image_px = 1536
    assert BatchPlanner(store, other, FakeRuntime()).cap("captions") is None


def test_on_a_gpu_the_budget_and_learned_costs_choose_the_batch(config: Any, store: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The card itself is simulated (free/total memory); everything else is the real planner."""
    import torch

    from bot.runtime import budget as memory

    planner = memory.BatchPlanner(store, config, FakeRuntime("cuda"))
    fixed = {"vision": StageCost("vision", 350.0, 150.0), "captions": StageCost("captions", 4300.0, 700.0)}
    monkeypatch.setattr(memory, "estimate_stage", lambda cfg, stage: fixed[stage])
    monkeypatch.setattr(memory, "_ESTIMATES", {})
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (int(10.8 * 2**30), 11 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    fractions: list[float] = []
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, device=None: fractions.append(f))
    # Before anything is measured: the estimate x OBSERVED_PER_ITEM (700 x 2.9 = 2,030 MiB per photo).
    assert planner.size("captions") == 2
    assert fractions and 0.9 < fractions[0] < 0.95  # the budget is enforced on the card
    planner.learn("captions", 1000.0)
    assert planner.size("captions") == 5  # (10,291 - 5,150) / 1,000
    planner.lowered("captions", 4)
    assert planner.size("captions") == 2
    # Another process takes 6 GB: the budget shrinks with it.
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (int(4.8 * 2**30), 11 * 2**30))
    assert planner.size("vision") == 1


# -- the estimator ------------------------------------------------------------------------------------------

SMOLVLM2 = {"text_config": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
                            "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 49280},
            "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                              "num_attention_heads": 16, "image_size": 384, "patch_size": 14},
            "scale_factor": 3}


def test_image_tokens_follow_the_processors_tiling() -> None:
    from bot.runtime.footprint import image_tokens

    # The issue's figure: a 1600x1200 photo at SmolVLM2's default 1536 px is 12 tiles + 1 global of 81 tokens.
    assert image_tokens(1536, tile=384, patch=14, scale=3) == (13, 1053)
    assert image_tokens(768, tile=384, patch=14, scale=3) == (5, 405)
    assert image_tokens(384, tile=384, patch=14, scale=3) == (1, 81)


def test_the_estimate_counts_the_kv_cache_the_shared_prefill_and_attention() -> None:
    from bot.runtime.footprint import chat_vlm, kv_bytes_per_token

    assert kv_bytes_per_token(SMOLVLM2["text_config"]) == 24 * 2 * 32 * 64 * 2
    small = chat_vlm(SMOLVLM2, image_px=768, candidates=4, new_tokens=60)
    big = chat_vlm(SMOLVLM2, image_px=1536, candidates=4, new_tokens=60)
    assert small.parts["image_tokens"] == 405 and big.per_item_mib > 1.8 * small.per_item_mib
    eager = chat_vlm(SMOLVLM2, image_px=1536, candidates=4, new_tokens=60, attention="eager")
    assert eager.parts["vision_activations"] > 3 * big.parts["vision_activations"]
    whole = chat_vlm(SMOLVLM2, image_px=1536, candidates=4, new_tokens=60, full_logits=True)
    assert whole.parts["prefill_activations"] > 4 * big.parts["prefill_activations"]
    # KV: the prompt once plus 4 copies with the new tokens; 1,353 prompt tokens x 192 KiB.
    prompt = 1053 + 300
    assert big.parts["kv_cache"] == pytest.approx((prompt + 4 * (prompt + 60)) * 196608 / 2**20)


def test_weights_come_from_the_exact_parameter_count_without_memory() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from bot.runtime.footprint import param_count

    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=500)
    assert param_count(config, LlamaForCausalLM) == sum(p.numel() for p in LlamaForCausalLM(config).parameters())


def test_estimate_stage_reads_the_configured_models(tmp_path: Any, config: Any) -> None:
    from bot.runtime.budget import estimate_stage
    from tests.tiny_captions import build_chat_vlm

    folder = build_chat_vlm(tmp_path / "vlm")
    config.models.captioner = str(folder)
    cost = estimate_stage(config, "captions")
    assert cost.weights_mib > 0 and cost.per_item_mib and cost.per_item_mib > 0
    config.models.captioner = str(tmp_path / "missing")
    assert estimate_stage(config, "captions").per_item_mib is None  # unknown: the first batch measures it


def test_a_server_s_caption_model_costs_no_local_memory(tmp_path: Any, config: Any) -> None:
    """The captioner on a server costs nothing here; a writer on a server leaves only the local describer's cost."""
    from bot.runtime.budget import estimate_stage
    from tests.tiny_captions import build_blip, build_chat_lm

    describer, writer = build_blip(tmp_path / "blip"), build_chat_lm(tmp_path / "writer")

    def cost(**models: Any) -> StageCost:
        return estimate_stage(config.model_copy(update={"models": config.models.model_copy(update=models)}),
                              "captions")

    both_local = cost(describer=str(describer), writer=str(writer), captioner=None)
    describer_only = cost(describer=str(describer), writer=None, captioner=None, server="http://gpu-box:8080/v1",
                          server_role="writer")
    assert 0 < describer_only.weights_mib < both_local.weights_mib
    assert describer_only.per_item_mib is not None
    assert cost(describer=None, writer=None, server="http://gpu-box:8080/v1", server_role="captioner") == StageCost(
        "captions", 0.0, 0.0)


def test_the_caption_model_sees_the_photo_at_caption_image_px(config: Any, pipeline_models: dict[str, str]) -> None:
    """Fewer tiles, fewer image tokens: the tiny VLM's tile is 32 px and its processor's default 64 px (2x2 + 1)."""
    from bot.captions.stage import Captioner
    from bot.runtime.ml import Runtime
    from tests.tiny_vision import pet_photo

    assert Runtime.from_config(config).caption_image_px == config.models.caption_image_px == 768
    config.models.captioner = pipeline_models["captioner"]

    def tiles(px: int | None) -> int:
        # The setting's lower bound (128) is above the tiny model's tile, so the runtime gets it directly.
        vlm = Captioner(config, Runtime("cpu", "float32", caption_image_px=px)).vlm
        vlm.load()
        out = vlm.processor(text=["<image>"], images=[[pet_photo("red", 0)]], return_tensors="pt")
        vlm.unload()
        return int(out["pixel_values"].shape[1])

    assert tiles(None) == 5
    assert tiles(32) == 1
    assert tiles(100) == 10  # rounded to whole tiles: 96 px, 3x3 + the global view


def test_work_outside_the_pipeline_halves_its_batch_on_out_of_memory(caplog: pytest.LogCaptureFixture) -> None:
    import torch

    from bot.runtime.budget import in_batches

    seen: list[int] = []

    def run(chunk: list[int]) -> list[int]:
        seen.append(len(chunk))
        if len(chunk) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return [x * 10 for x in chunk]

    assert in_batches(list(range(7)), 8, run, what="prompts") == [x * 10 for x in range(7)]
    assert seen == [7, 4, 2, 2, 2, 1]  # 8 -> 4 -> 2, then the rest at 2
    assert [r.getMessage() for r in caplog.records] == ["out of GPU memory with 8 prompts per batch; going on with 4",
                                                       "out of GPU memory with 4 prompts per batch; going on with 2"]

    def broken(chunk: list[int]) -> list[int]:
        raise ValueError("not memory")

    with pytest.raises(ValueError):
        in_batches([1, 2], 2, broken)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        in_batches([1], 1, lambda chunk: run([1, 2, 3]))


def test_reference_photos_are_detected_in_batches_not_all_at_once(config: Any, pipeline_models: dict[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Many reference photos at once (a new pet with a full folder) stay within models.batch_size per pass."""
    from bot.runtime.ml import Runtime
    from bot.vision.identify import Vision
    from tests.tiny_vision import pet_photo

    config.models.detector, config.models.embedder = pipeline_models["detector"], pipeline_models["embedder"]
    config.models.batch_size = 2
    vision = Vision(config, Runtime("cpu", "float32"))
    sizes: list[int] = []
    detect = vision.detector.detect
    monkeypatch.setattr(vision.detector, "detect",
                        lambda images, *a: (sizes.append(len(images)), detect(images, *a))[1])
    found = vision.detect([pet_photo("red", i) for i in range(5)])
    assert len(found) == 5 and sizes == [2, 2, 1]
