"""LoRA fine-tuning of the active caption backend on (the daemon's prompt -> the caption as posted).

The chat VLM learns from photo + prompt, the describer+writer pair's writer from description + prompt; the loss
covers the caption tokens only. Gradient checkpointing and bf16 on a GPU; SIGTERM stops it between steps.
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

if TYPE_CHECKING:
    from training.plan import Plan

log = logging.getLogger(__name__)

# phase ("describe", "train", "evaluate"), done, total, latest loss (train only)
ProgressFn = Callable[[str, int, int, float | None], None]

# Steps timed before a time budget shortens the plan.
BUDGET_PROBE_STEPS = 2

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
            from bot.captions.context import open_image  # oriented and scaled as the daemon does

            image = open_image(sample.image)
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

    def micro_batches(self, encoded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Text examples padded into one batch; VLM examples one at a time (their image tensors differ in shape)."""
        import torch

        if self.kind == "vlm":
            return encoded
        width = max(e["input_ids"].shape[1] for e in encoded)
        pad = self.tokenizer.pad_token_id

        def padded(key: str, value: int) -> Any:
            return torch.cat([torch.nn.functional.pad(e[key], (0, width - e[key].shape[1]), value=value)
                              for e in encoded])

        return [{"input_ids": padded("input_ids", pad), "attention_mask": padded("attention_mask", 0),
                 "labels": padded("labels", -100)}]

    # -- LoRA --------------------------------------------------------------------------------

    def add_lora(self, rank: int) -> int:
        """Wrap the model with a fresh LoRA adapter named 'default'; returns the trainable parameter count."""
        from peft import LoraConfig, get_peft_model

        targets = lora_targets(self.model)
        lora = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets, bias="none",
                          task_type="CAUSAL_LM")
        if self.runtime.device.startswith("cuda"):
            # Activations are recomputed in the backward pass: a 2B VLM then fits next to the daemon's models.
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
        """Raw candidates per prompt through the daemon's own `write` (same batching, sampling and settings)."""
        from bot.captions.generate import GenerationSettings

        settings = GenerationSettings.from_config(config.captions)
        self.model.eval()
        if self.kind == "vlm":
            from bot.captions.context import open_image

            return self.caption_model.write([open_image(s.image) for s in samples], prompts, settings, seed)
        return self.caption_model.write(prompts, settings, seed)

    def save_adapter(self, path: Path) -> None:
        self.model.save_pretrained(str(path), selected_adapters=["default"])
        self.tokenizer.save_pretrained(str(path))  # so the adapter folder says which vocabulary it was made for

    def unload(self) -> None:
        self.caption_model.unload()


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
    (`training.plan`), or `retrain.epochs` passes without one; stops early when `stop` is set.

    With a plan's time budget, the step count is shortened after the first steps to what fits in it.
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
    trainable = backend.add_lora(r.lora_rank)
    params = [p for p in backend.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=plan.learning_rate, weight_decay=0.0)
    total = plan.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: plan.lr_at(s, total) / plan.learning_rate)
    encoded = [backend.encode(s) for s in samples]
    report = TrainReport(steps=0, total_steps=total, epochs=math.ceil(total * plan.batch_size / len(samples)),
                         seconds=0.0, trainable_params=trainable, device=device,
                         dtype=str(backend.runtime.dtype).removeprefix("torch."))
    autocast = (torch.autocast("cuda", dtype=backend.runtime.dtype) if device.startswith("cuda")
                else torch.autocast("cpu", enabled=False))
    generator = torch.Generator().manual_seed(0)
    started = time.monotonic()
    backend.model.train()
    while report.steps < total and not report.stopped:
        order = torch.randperm(len(encoded), generator=generator).tolist()
        for first in range(0, len(order), plan.batch_size):
            if stop is not None and stop.is_set():
                report.stopped = True
                break
            if report.steps >= total:
                break
            batch = [encoded[i] for i in order[first:first + plan.batch_size]]
            n_tokens = sum(int((e["labels"] != -100).sum()) for e in batch)
            loss_sum = 0.0
            for micro in backend.micro_batches(batch):
                micro = to_device(micro, device, backend.runtime.dtype)
                share = int((micro["labels"] != -100).sum()) / max(1, n_tokens)
                with autocast:
                    loss = backend.model(**micro).loss * share
                loss.backward()
                loss_sum += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            report.steps += 1
            report.losses.append(loss_sum)
            if plan.budget_seconds and report.steps == BUDGET_PROBE_STEPS < total:
                # What fits in the budget at the speed measured so far; the schedule decays over that instead.
                per_step = (time.monotonic() - started) / report.steps
                fits = max(report.steps, int(plan.budget_seconds / per_step))
                if fits < total:
                    total = report.total_steps = fits
                    report.budget_limited = True
            if progress:
                progress("train", report.steps, total, loss_sum)
    report.seconds = time.monotonic() - started
    backend.model.eval()
    return report
