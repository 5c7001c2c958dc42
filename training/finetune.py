"""LoRA fine-tuning of the active caption backend on (the daemon's prompt -> the caption as posted).

The chat VLM learns from photo + prompt, the describer+writer pair's writer from description + prompt; the loss
covers the caption tokens only. The speed path (the same on a CPU, in fp32): batches of similar length padded on
the left (so every caption ends at the last position and only the caption's logits are computed), a frozen vision
tower's image features computed once per photo, fused AdamW on CUDA, gradient checkpointing only when the GPU
memory budget needs it, no host sync per step. `retrain.time_budget_minutes` bounds training; SIGTERM stops it
between steps.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.captions.prompt import Prompt
from bot.config import Config
from bot.ml import Runtime
from training.speed import (
    FEATURE_REUSE_TYPES,
    FeatureCache,
    accepts,
    attention_of,
    batch_order,
    needs_checkpointing,
    steps_within,
)

if TYPE_CHECKING:
    from training.plan import Plan

log = logging.getLogger(__name__)

# phase ("describe", "train", "evaluate"), done, total, latest loss (train only)
ProgressFn = Callable[[str, int, int, float | None], None]

clock = time.monotonic  # the training loop's clock (tests replace it)
# Of the time budget, what training may use; evaluating old and new on the holdout follows.
TRAIN_SHARE = 0.85
LOSS_SYNC_EVERY = 10  # steps between reading the loss back from the device (each read waits for the GPU)

# Attention and MLP projections of LLaMA/Mistral/Qwen/SmolLM-style language models: the usual LoRA targets.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


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
class Sample:
    """One training or evaluation input: the rendered prompt, the photo for a VLM, and the target caption."""

    key: str
    prompt: str  # rendered by `Backend.render`
    target: str
    image: Path | None = None


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


class Backend:
    """The caption model being tuned: the daemon's own ChatVLM or Writer, so prompts render and captions
    generate exactly as in production; training wraps its model with a LoRA adapter named 'default'."""

    def __init__(self, kind: str, model_id: str, runtime: Runtime) -> None:
        from bot.captions.backends import ChatVLM, Writer

        self.kind = kind
        self.model_id = model_id
        self.runtime = runtime
        self.caption_model: ChatVLM | Writer = (ChatVLM if kind == "vlm" else Writer)(model_id, runtime)

    @property
    def model(self) -> Any:
        return self.caption_model.model

    @model.setter
    def model(self, value: Any) -> None:
        self.caption_model.model = value

    @property
    def tokenizer(self) -> Any:
        cm = self.caption_model
        return cm.processor.tokenizer if self.kind == "vlm" else cm.tokenizer

    def load(self) -> None:
        import torch

        self.caption_model.load()
        torch.manual_seed(0)

    def render(self, prompt: Prompt) -> str:
        """The prompt as the daemon's model sees it (chat template, or the plain form for a writer without one)."""
        return self.caption_model.prompt_texts([prompt])[0]

    def end_token_id(self) -> int:
        """The token that ends an answer: the chat model's end-of-turn, which generation stops on."""
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        if isinstance(eos, list | tuple):
            eos = eos[0] if eos else None
        return int(eos if eos is not None else self.tokenizer.eos_token_id)

    # -- encoding ----------------------------------------------------------------------------

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        """The model inputs for the prompt alone (batch of one), tokenised as the daemon tokenises it."""
        if self.kind == "vlm":
            from bot.captions.context import caption_image  # oriented and scaled as the daemon does

            image = caption_image(sample.image)
            return dict(self.caption_model.processor(text=[sample.prompt], images=[[image]], return_tensors="pt"))
        # A chat template writes its own BOS; a plain prompt gets the tokenizer's usual special tokens.
        return dict(self.tokenizer([sample.prompt], return_tensors="pt",
                                   add_special_tokens=not self.caption_model.chat))

    def encode(self, sample: Sample) -> dict[str, Any]:
        """Prompt + caption + end token; labels are -100 on the prompt so only the caption is learned.

        The caption's ids are appended to the prompt's ids (not tokenised together) so the split is exact.
        """
        import torch

        inputs = self.encode_prompt(sample)
        # After "Caption:" or "Assistant:" a model writes " Lola ...": the same leading space it will generate.
        text = sample.target if not sample.prompt or sample.prompt[-1].isspace() else " " + sample.target
        target = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.end_token_id()]
        target_ids = torch.tensor([target], dtype=inputs["input_ids"].dtype)
        prompt_len = inputs["input_ids"].shape[1]
        inputs["input_ids"] = torch.cat([inputs["input_ids"], target_ids], dim=1)
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        labels = inputs["input_ids"].clone()
        labels[:, :prompt_len] = -100
        inputs["labels"] = labels
        return inputs

    # -- batches ------------------------------------------------------------------------------

    @property
    def reuses_image_features(self) -> bool:
        """Whether the frozen vision tower's output can be computed once per photo and fed back instead of pixels
        (the language model alone is tuned, so a photo's features never change while training)."""
        return self.kind == "vlm" and getattr(self.model.config, "model_type", None) in FEATURE_REUSE_TYPES \
            and hasattr(self.model, "get_image_features") and accepts(self.model, "mm_encoder_outputs")

    def image_features(self, encoded: dict[str, Any]) -> Any:
        """One example's image features, (image tokens, hidden), as the model merges them into its prompt."""
        import torch

        kwargs = {k: encoded[k].to(self.runtime.device) for k in ("pixel_values", "pixel_attention_mask")
                  if k in encoded}
        kwargs["pixel_values"] = kwargs["pixel_values"].to(self.model.dtype)
        with torch.no_grad():
            out = self.model.get_image_features(**kwargs)
        pooled = out.pooler_output if hasattr(out, "pooler_output") else out
        if isinstance(pooled, list | tuple):
            pooled = torch.cat(list(pooled), dim=0)
        return pooled.reshape(-1, pooled.shape[-1]).detach()

    def collate(self, encoded: list[dict[str, Any]], features: list[Any] | None = None) -> list[dict[str, Any]]:
        """Examples as model inputs: padded on the left to the longest of them, so that every caption ends at the
        last position; with image features (a VLM), as text plus those features. A VLM whose features cannot
        be fed back gets one example per micro-batch, pixels included (its image tensors differ in shape)."""
        import torch

        if self.kind == "vlm" and features is None:
            return [{**e, "loss_span": caption_span(e["labels"])} for e in encoded]
        width = max(e["input_ids"].shape[1] for e in encoded)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

        def padded(key: str, value: int) -> Any:
            return torch.cat([torch.nn.functional.pad(e[key], (width - e[key].shape[1], 0), value=value)
                              for e in encoded])

        mask, labels = padded("attention_mask", 0), padded("labels", -100)
        batch = {"input_ids": padded("input_ids", pad), "attention_mask": mask, "labels": labels,
                 "position_ids": (mask.long().cumsum(-1) - 1).clamp(min=0), "loss_span": caption_span(labels)}
        if features is not None:
            from transformers.modeling_outputs import BaseModelOutputWithPooling

            batch["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=list(features))}
        return [batch]

    def loss(self, micro: dict[str, Any], n_tokens: int) -> Any:
        """Summed cross-entropy over the caption tokens / `n_tokens` (the step's caption tokens).

        Only the positions that predict a caption token get logits: on a left-padded batch those are the last
        `loss_span` ones (worked out by `collate` on the CPU, so no step waits for the GPU to say it), and
        `logits_to_keep` spares the vocabulary projection (and its fp32 copy) for the whole prompt.
        """
        import torch

        labels, span = micro.pop("labels"), micro.pop("loss_span")
        if accepts(self.model, "logits_to_keep") and micro["input_ids"].shape[1] > span:
            logits = self.model(**micro, logits_to_keep=span + 1).logits[:, :-1]
            target = labels[:, -span:]
        else:
            logits = self.model(**micro).logits[:, :-1]
            target = labels[:, 1:]
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                 target.reshape(-1).to(logits.device), ignore_index=-100,
                                                 reduction="sum") / max(1, n_tokens)

    # -- LoRA --------------------------------------------------------------------------------

    def add_lora(self, rank: int, checkpointing: bool = False) -> int:
        """Wrap the model with a fresh LoRA adapter named 'default'; returns the trainable parameter count."""
        from peft import LoraConfig, get_peft_model

        targets = lora_targets(self.model)
        lora = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets, bias="none",
                          task_type="CAUSAL_LM")
        if checkpointing:
            # Activations are recomputed in the backward pass (a third more compute): only when they do not fit.
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.model.enable_input_require_grads()
        self.model = get_peft_model(self.model, lora)
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def load_adapter(self, path: Path, name: str) -> None:
        self.model.load_adapter(str(path), adapter_name=name, is_trainable=False)

    @contextmanager
    def using(self, adapter: str | None) -> Iterator[None]:
        """Generate with one adapter, or with the base model alone when `adapter` is None."""
        if adapter is None:
            with self.model.disable_adapter():
                yield
            return
        self.model.set_adapter(adapter)
        yield

    # -- generation --------------------------------------------------------------------------

    def write(self, samples: list[Sample], prompts: list[Prompt], config: Config, seed: int) -> list[list[str]]:
        """Raw candidates per prompt through the daemon's own `write` (same batching, sampling and settings); on a
        GPU in batches the card holds (halved on out-of-memory), as the daemon's memory budget would."""
        from bot.captions.generate import GenerationSettings
        from bot.memory import in_batches

        settings = GenerationSettings.from_config(config.captions)
        self.model.eval()

        def run(pairs: list[tuple[Sample, Prompt]]) -> list[list[str]]:
            if self.kind == "vlm":
                from bot.captions.context import caption_image

                return self.caption_model.write([caption_image(s.image) for s, _ in pairs], [p for _, p in pairs],
                                                settings, seed)
            return self.caption_model.write([p for _, p in pairs], settings, seed)

        pairs = list(zip(samples, prompts, strict=True))
        return in_batches(pairs, len(pairs) or 1, run, what="evaluation prompts")

    def save_adapter(self, path: Path) -> None:
        self.model.save_pretrained(str(path), selected_adapters=["default"])
        self.tokenizer.save_pretrained(str(path))  # so the adapter folder says which vocabulary it was made for

    def unload(self) -> None:
        self.caption_model.unload()


def caption_span(labels: Any) -> int:
    """How many positions at the end of a batch hold every label (the captions, on a left-padded batch)."""
    known = (labels != -100).int()
    if not bool(known.any()):
        return 1
    return int(labels.shape[1] - known.argmax(dim=1)[known.any(dim=1)].min())


def lora_targets(model: Any) -> list[str] | str:
    """Full names of the language model's projection layers; vision towers are left alone.

    Models without LLaMA-style names (GPT-2's c_attn, ...) fall back to every linear layer.
    """
    import torch

    names = [
        name for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in LORA_TARGETS
        and not any(part in name for part in ("vision", "visual", "image", "connector", "multi_modal_projector"))
    ]
    return names or "all-linear"


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
