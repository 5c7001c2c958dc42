"""The GPU memory budget: how many photos each stage puts in one batch, and what the card taught us.

`plan_batches` is the pure planner (budget, model sizes, per-photo costs -> batch per stage); `BatchPlanner`
feeds it on a real card: the budget from `[models] gpu_memory_gb`, per-photo costs estimated (bot.runtime.footprint)
until the first batches measure them, and the batch an out-of-memory error lowered -- both kept in the database.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bot.store import keys

log = logging.getLogger(__name__)

GIB = 1024.0  # MiB
# Kept free for the desktop, other programs' small allocations and the allocator's rounding.
MARGIN_MIB = 768.0
MARGIN_SHARE = 0.05  # of the card, when that is more than MARGIN_MIB
CONTEXT_MIB = 500.0  # the CUDA context and kernels, outside torch's allocator
# The per-photo figure of bot.runtime.footprint is allocated memory; the one GPU measurement (an H200, nvidia-smi peak,
# 1536 px captions, batch 8) saw 2.9x that per photo: the caching allocator's reserve while KV caches grow. Until a
# batch is measured on the owner's card, plans use the estimate times this factor.
OBSERVED_PER_ITEM = 2.9
LEARN_BATCHES = 3  # per-photo cost: the largest seen over the first batches, then kept
_ESTIMATES: dict[str, StageCost] = {}  # per stage key (models and settings), for this process
_WARNED: set[str] = set()  # stage keys already warned about not fitting, for this process


@dataclass(frozen=True)
class StageCost:
    """One stage's models on the card: weights (MiB) and what each photo of a batch adds at the peak (MiB)."""

    stage: str
    weights_mib: float
    per_item_mib: float | None  # None: unknown (nothing measured, nothing to estimate from)


@dataclass(frozen=True)
class Plan:
    batches: dict[str, int]
    budget_mib: float
    peak_mib: dict[str, float]  # the expected peak of each stage at its batch
    fits: bool  # False: even one photo per batch is expected to exceed the budget


def plan_batches(budget_mib: float, stages: list[StageCost], *, max_batch: int,
                 caps: dict[str, int] | None = None, context_mib: float = CONTEXT_MIB) -> Plan:
    """The largest batch per stage whose peak stays within `budget_mib`, between 1 and `max_batch`.

    Every stage's weights count as resident: the models of the other stage stay loaded until the idle unload, so a
    plan holds whichever runs. A stage whose per-photo cost is unknown gets 1 (its first batch measures it);
    `caps` (batches an out-of-memory lowered) are never exceeded.
    """
    caps = caps or {}
    resident = context_mib + sum(s.weights_mib for s in stages)
    room = budget_mib - resident
    batches, peaks, fits = {}, {}, True
    for s in stages:
        limit = max(1, min(max_batch, caps.get(s.stage, max_batch)))
        if s.per_item_mib is None:
            n = 1
        elif s.per_item_mib <= 0:
            n = limit
        else:
            n = max(1, min(limit, math.floor(room / s.per_item_mib)))
        batches[s.stage] = n
        peaks[s.stage] = resident + n * (s.per_item_mib or 0.0)
        fits = fits and peaks[s.stage] <= budget_mib
    return Plan(batches, budget_mib, peaks, fits)


def budget_mib(setting: float | str, *, free_mib: float, total_mib: float, own_mib: float = 0.0) -> float:
    """What this process may use: `setting` GB, or with "auto" what is free (plus what it already holds) minus
    a margin. Other processes' memory is never counted as ours, so a fixed setting shrinks when they grow."""
    margin = max(MARGIN_MIB, MARGIN_SHARE * total_mib)
    available = max(0.0, free_mib + own_mib - margin)
    if setting == "auto":
        return available
    return min(float(setting) * GIB, available)


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA (or MPS) out-of-memory error, without importing torch."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class BatchPlanner:
    """Batch sizes for the pipeline's stages on this runtime; on the CPU simply `models.batch_size` (and any
    lowered size, though only a GPU runs out of memory this way)."""

    def __init__(self, store: Any, config: Any, runtime: Any) -> None:
        self.store, self.config, self.runtime = store, config, runtime
        self._start_budget: float | None = None

    # -- state in the database ------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        state = self.store.get(keys.GPU_BATCHES) or {}
        return {"caps": state.get("caps", {}), "costs": state.get("costs", {})}

    def _save(self, state: dict[str, Any]) -> None:
        self.store.put(keys.GPU_BATCHES, state)

    def key(self, stage: str) -> str:
        """What a stage's cost depends on: its models and the settings that size a photo's work."""
        m, c = self.config.models, self.config.captions
        if stage == "vision":
            return f"vision|{m.detector}|{m.embedder}|{self.runtime.dtype}"
        models = f"{m.describer}|{m.writer}" if m.two_stage else m.captioner
        return f"captions|{models}|{c.candidates}|{c.max_new_tokens}|{m.caption_image_px}|{self.runtime.dtype}"

    def cap(self, stage: str) -> int | None:
        return self._state()["caps"].get(self.key(stage))

    def learned(self, stage: str) -> float | None:
        entry = self._state()["costs"].get(self.key(stage))
        return entry["per_item_mib"] if entry else None

    # -- planning -------------------------------------------------------------------------------

    @property
    def on_gpu(self) -> bool:
        return self.runtime.device.startswith("cuda")

    def budget(self) -> float:
        import torch

        free, total = torch.cuda.mem_get_info(self.runtime.device)
        own = torch.cuda.memory_reserved(self.runtime.device)
        now = budget_mib(self.config.models.gpu_memory_gb, free_mib=free / 2**20, total_mib=total / 2**20,
                         own_mib=own / 2**20)
        if self._start_budget is None:
            self._start_budget = now
            # The budget holds even where an estimate is short: beyond it torch raises out-of-memory, which the
            # pipeline answers by halving the batch, instead of the process taking the card (or the desktop's share).
            torch.cuda.set_per_process_memory_fraction(min(1.0, max(0.05, now * 2**20 / total)), self.runtime.device)
            log.info("GPU memory budget: %.1f GB of %.1f GB (models.gpu_memory_gb = %s)", now / GIB,
                     total / 2**30, self.config.models.gpu_memory_gb)
        return min(self._start_budget, now)

    def costs(self) -> list[StageCost]:
        out = []
        for stage in ("vision", "captions"):
            key = self.key(stage)
            if key not in _ESTIMATES:  # building the models on the meta device takes a moment: once a process
                _ESTIMATES[key] = estimate_stage(self.config, stage)
            est = _ESTIMATES[key]
            learned = self.learned(stage)
            per_item = learned if learned is not None else (
                est.per_item_mib * OBSERVED_PER_ITEM if est.per_item_mib is not None else None)
            out.append(StageCost(stage, est.weights_mib, per_item))
        return out

    def size(self, stage: str) -> int:
        """The batch for `stage` now."""
        most = self.config.models.batch_size
        cap = self.cap(stage)
        if not self.on_gpu:
            return min(most, cap) if cap else most
        caps = {s: c for s in ("vision", "captions") if (c := self.cap(s))}
        plan = plan_batches(self.budget(), self.costs(), max_batch=most, caps=caps)
        if not plan.fits and self.key(stage) not in _WARNED:
            _WARNED.add(self.key(stage))
            log.warning("the models need about %.1f GB of GPU memory at one photo per batch, more than the budget "
                        "of %.1f GB (models.gpu_memory_gb); expect slow retries, or set a smaller caption model",
                        max(plan.peak_mib.values()) / GIB, plan.budget_mib / GIB)
        return plan.batches[stage]

    def lowered(self, stage: str, size: int) -> int:
        """After an out-of-memory error at `size`: half of it (at least 1), remembered for this stage."""
        new = max(1, size // 2)
        state = self._state()
        state["caps"][self.key(stage)] = new
        self._save(state)
        return new

    @contextmanager
    def measure(self, stage: str, items: int) -> Iterator[None]:
        """Learn the stage's per-photo cost from a batch on the GPU: the reserved peak above what it held before,
        less the weights it loaded meanwhile, per photo; the largest over the first LEARN_BATCHES batches."""
        if not self.on_gpu or items <= 0:
            yield
            return
        import torch

        device = self.runtime.device
        # Cached free blocks would hide the batch's growth: start from what is really held.
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        reserved, allocated = torch.cuda.memory_reserved(device), torch.cuda.memory_allocated(device)
        yield
        loaded = max(0, torch.cuda.memory_allocated(device) - allocated)
        per_item = max(0.0, torch.cuda.max_memory_reserved(device) - reserved - loaded) / 2**20 / items
        self.learn(stage, per_item)

    def learn(self, stage: str, per_item_mib: float) -> None:
        state = self._state()
        entry = state["costs"].get(self.key(stage), {"per_item_mib": 0.0, "batches": 0})
        if entry["batches"] >= LEARN_BATCHES:
            return
        entry = {"per_item_mib": round(max(entry["per_item_mib"], per_item_mib), 1), "batches": entry["batches"] + 1}
        state["costs"][self.key(stage)] = entry
        self._save(state)


def in_batches(items: list[Any], size: int, run: Callable[[list[Any]], list[Any]], *,
               what: str = "items") -> list[Any]:
    """`run` over `items` in batches of `size`, halving the batch whenever the GPU runs out of memory (for work
    outside the pipeline, e.g. a retrain's evaluation, where there is no photo state to retry from)."""
    out: list[Any] = []
    start = 0
    while start < len(items):
        chunk = items[start:start + size]
        failed = False
        try:
            out.extend(run(chunk))
        except Exception as exc:
            if not is_out_of_memory(exc) or size == 1:
                raise
            failed = True
        if failed:  # outside the except block, so the failed batch's tensors are freed first
            from bot.runtime.ml import free_memory

            free_memory()
            log.warning("out of GPU memory with %d %s per batch; going on with %d", size, what, size // 2)
            size //= 2
            continue
        start += len(chunk)
    return out


def estimate_stage(config: Any, stage: str) -> StageCost:
    """The estimator's weights and per-photo cost for a stage's models (bf16/fp16); unknown when a model's
    config cannot be read (not downloaded yet: the first batch then measures it)."""
    from bot.runtime import footprint

    m, c = config.models, config.captions
    try:
        if stage == "vision":
            det = _model_config(m.detector)
            emb = _model_config(m.embedder)
            det_vision = getattr(det, "vision_config", det)
            emb_vision = getattr(emb, "vision_config", emb)
            d = footprint.vision_model("detector", det_vision, params=_params(det, "detector"))
            # Embedders see 224 px crops whatever size their position table allows (DINOv2's is 518), each
            # animal (and the whole photo) in `embed_views` views.
            e = footprint.vision_model("embedder", emb_vision, params=_params(emb, "embedder"), image_px=224,
                                       images_per_item=(1 + footprint.ANIMALS_PER_PHOTO) * m.embed_views)
            return StageCost(stage, d.weights_mib + e.weights_mib, d.per_item_mib + e.per_item_mib)
        if m.uses_server:
            # The server holds the chat VLM or the writer in its own memory: here only the describer, if any.
            if not m.server_writes_after_describer:
                return StageCost(stage, 0.0, 0.0)
            desc = _model_config(m.describer)
            vision = getattr(desc, "vision_config", None)
            d_item = footprint.vision_model("describer", vision).per_item_mib if vision is not None else 0.0
            return StageCost(stage, footprint.weights_mib(_params(desc, "describer")), d_item)
        if m.two_stage:
            desc, wri = _model_config(m.describer), _model_config(m.writer)
            w = footprint.writer(wri, candidates=c.candidates, new_tokens=c.max_new_tokens,
                                 params=_params(wri, "writer"))
            vision = getattr(desc, "vision_config", None)
            d_item = footprint.vision_model("describer", vision).per_item_mib if vision is not None else 0.0
            return StageCost(stage, w.weights_mib + footprint.weights_mib(_params(desc, "describer")),
                             max(w.per_item_mib, d_item))
        cap = _model_config(m.captioner)
        f = footprint.chat_vlm(cap, image_px=m.caption_image_px, candidates=c.candidates,
                               new_tokens=c.max_new_tokens, params=_params(cap, "captioner"))
        return StageCost(stage, f.weights_mib, f.per_item_mib)
    except Exception as exc:  # no config locally, an unknown architecture: measure instead of guessing
        log.debug("no memory estimate for the %s stage: %s", stage, exc)
        return StageCost(stage, 0.0, None)


def _model_config(model_id: str) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model_id)


def _params(config: Any, kind: str) -> int:
    from bot.runtime import footprint

    return footprint.param_count(config, _auto_class(config, kind))


def _auto_class(config: Any, kind: str) -> Any:
    import transformers as t
    from transformers.models.auto import modeling_auto as auto

    if kind == "detector":
        if config.model_type in auto.MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES:
            return t.AutoModelForZeroShotObjectDetection
        return t.AutoModelForObjectDetection
    if kind in ("captioner", "describer"):
        return t.AutoModelForImageTextToText
    if kind == "writer":
        return t.AutoModelForCausalLM
    return t.AutoModel
