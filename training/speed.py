"""How training goes fast: the batch order (similar lengths together), the learning-rate horizon under the time
budget, a VLM's frozen image features computed once per photo, and whether gradient checkpointing is needed.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

BUCKET_BATCHES = 16  # examples are sorted by length within groups of this many batches, then the batches shuffled
FEATURE_CACHE_MIB = 8 * 1024  # frozen image features kept in memory up to this; beyond, recomputed every step
# VLM families whose forward takes precomputed image features (`mm_encoder_outputs`) merged at the image tokens in
# order, and whose positions do not depend on the image grid; others (e.g. Qwen2-VL's multimodal RoPE) train as
# before, with the pixels.
FEATURE_REUSE_TYPES = frozenset({"idefics3", "smolvlm"})


def steps_within(done: int, total: int, elapsed: float, budget: float) -> int:
    """The step count training will reach: all of them, or as many as the time budget allows at this pace."""
    if done < 2 or elapsed <= 0:
        return total
    return max(done + 1, min(total, int(done * budget / elapsed)))


def batch_order(lengths: list[int], batch_size: int, generator: Any) -> list[list[int]]:
    """An epoch's batches: shuffled, then sorted by length within groups of BUCKET_BATCHES batches, so a batch
    pads to little more than its own examples; the batches are shuffled again so lengths do not run in order."""
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches: list[list[int]] = []
    group = batch_size * BUCKET_BATCHES
    for first in range(0, len(order), group):
        chunk = sorted(order[first:first + group], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class FeatureCache:
    """A VLM's image features per example, computed on first use and kept (in the model's dtype, on the CPU) when
    they fit FEATURE_CACHE_MIB; otherwise computed again at every step (still without the pixels' batch limit)."""

    def __init__(self, backend: Any, encoded: list[dict[str, Any]]) -> None:
        self.backend, self.encoded = backend, encoded
        self.kept: dict[int, Any] = {}
        self.enabled = backend.reuses_image_features
        self.keep = self.enabled and bool(encoded) and self._fits()
        self.mode = "" if backend.kind != "vlm" else (
            "once per photo" if self.keep else "every step" if self.enabled else "every step (with the pixels)")

    def _fits(self) -> bool:
        one = self.backend.image_features(self.encoded[0])
        self.kept[0] = one.to("cpu")
        return one.numel() * one.element_size() * len(self.encoded) / 2**20 <= FEATURE_CACHE_MIB

    def get(self, order: list[int]) -> list[Any] | None:
        if not self.enabled:
            return None
        out = []
        for i in order:
            if i in self.kept:
                out.append(self.kept[i])
                continue
            features = self.backend.image_features(self.encoded[i])
            if self.keep:
                self.kept[i] = features = features.to("cpu")
            out.append(features)
        return out


def needs_checkpointing(backend: Any, encoded: list[dict[str, Any]], config: Any) -> bool:
    """Whether a batch of the longest examples would exceed the GPU memory budget without recomputing activations
    (bot.runtime.footprint's training estimate over the weights already on the card)."""
    import torch

    from bot.runtime import footprint
    from bot.runtime.budget import budget_mib

    device = backend.runtime.device
    free, total = torch.cuda.mem_get_info(device)
    own = torch.cuda.memory_reserved(device)
    budget = budget_mib(config.models.gpu_memory_gb, free_mib=free / 2**20, total_mib=total / 2**20,
                        own_mib=own / 2**20)
    text = getattr(backend.model.config, "text_config", backend.model.config)
    longest = max(int(e["input_ids"].shape[1]) for e in encoded)
    caption = max(int((e["labels"] != -100).sum()) for e in encoded)
    per_example = footprint.training_example_mib(text, longest, loss_tokens=caption, checkpointing=False,
                                                 attention=attention_of(backend.model))
    need = torch.cuda.memory_allocated(device) / 2**20 + config.retrain.batch_size * per_example
    need *= footprint.ALLOCATOR_OVERHEAD
    log.info("training needs about %.1f GB without gradient checkpointing; the budget is %.1f GB", need / 1024,
             budget / 1024)
    return need > budget


def attention_of(model: Any) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "_attn_implementation", None) or "")


def accepts(model: Any, name: str) -> bool:
    """Whether the (PEFT-wrapped) model's forward takes keyword `name`."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False
