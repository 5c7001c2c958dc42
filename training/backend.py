"""The caption model being tuned (`Backend`): the daemon's own ChatVLM or Writer, with what training asks of it:
encoding a training sample (the loss sees only the caption), left-padded batches with a VLM's image features fed
back, the caption-only loss, the LoRA adapter on the language model, and writing with or without an adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.captions.prompt import Prompt
from bot.config import Config
from bot.runtime.ml import Runtime
from training.speed import FEATURE_REUSE_TYPES, accepts

# Attention and MLP projections of LLaMA/Mistral/Qwen/SmolLM-style language models: the usual LoRA targets.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class Sample:
    """One training or evaluation input: the rendered prompt, the photos for a VLM, and the target caption."""

    key: str
    prompt: str  # rendered by `Backend.render`
    target: str
    image: Path | None = None  # the post's first photo
    others: list[Path] = field(default_factory=list)  # a carousel's next photos the VLM is shown, in order

    @property
    def images(self) -> list[Path]:
        return [self.image, *self.others] if self.image is not None else list(self.others)


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

            images = [caption_image(path) for path in sample.images]
            return dict(self.caption_model.processor(text=[sample.prompt], images=[images], return_tensors="pt"))
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
        from bot.runtime.budget import in_batches

        settings = GenerationSettings.from_config(config.captions)
        self.model.eval()

        def run(pairs: list[tuple[Sample, Prompt]]) -> list[list[str]]:
            if self.kind == "vlm":
                from bot.captions.context import caption_image

                return self.caption_model.write([[caption_image(i) for i in s.images] for s, _ in pairs],
                                                [p for _, p in pairs], settings, seed)
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
