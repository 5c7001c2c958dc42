"""The caption models: a chat VLM that sees photo and prompt together, or a describer plus a text writer.

Each is a `ManagedModel` (lazy load, idle unload); a LoRA adapter from the model registry is applied at load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PIL import Image

from bot.captions import templates
from bot.captions.generate import GenerationSettings, decode, grouped, sample, to_device
from bot.captions.prompt import Prompt
from bot.captions.rules import Generated
from bot.runtime.ml import ManagedModel, Runtime

log = logging.getLogger(__name__)

DESCRIPTION_TOKENS = 40


def _with_start(prompt_text: str, start: str) -> str:
    """The templated prompt followed by the owner's first words, so the model continues them."""
    if not start:
        return prompt_text
    return prompt_text + ("" if not prompt_text or prompt_text[-1].isspace() else " ") + start


def _pad_left(tokenizer: Any) -> None:
    # Batched generation continues every prompt from its last token, so shorter prompts are padded on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _continue(start: str, continuation: str) -> str:
    if not start:
        return continuation
    return Generated(start + continuation, cut_off=getattr(continuation, "cut_off", False))


class CaptionModel(ManagedModel):
    """Shared loading: dtype and device from the runtime, then the LoRA adapter if one is given."""

    def __init__(self, model_id: str, runtime: Runtime, adapter_dir: Path | None = None) -> None:
        super().__init__(model_id, runtime)
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None

    def _finish(self, model: Any) -> Any:
        if self.adapter_dir is not None:
            from peft import PeftModel

            # Merged once at load: inference then runs at the base model's speed.
            model = PeftModel.from_pretrained(model, str(self.adapter_dir)).merge_and_unload()
            log.info("applied LoRA adapter %s to models.%s", self.adapter_dir, self.key)
        return model.to(self.runtime.device).eval()


class ChatVLM(CaptionModel):
    """An image-text-to-text chat model (SmolVLM, Idefics3, Qwen2-VL, LLaVA-style) via AutoProcessor."""

    key = "captioner"
    weights = ("model", "processor")

    def _load(self) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(self.model_id)
        _pad_left(processor.tokenizer)
        limit_image_size(processor, self.runtime.caption_image_px)
        model = AutoModelForImageTextToText.from_pretrained(self.model_id, dtype=self.runtime.dtype)
        self.processor, self.model = processor, self._finish(model)

    def prompt_texts(self, prompts: list[Prompt]) -> list[str]:
        return [_with_start(self.processor.apply_chat_template(p.messages(with_image=True),
                                                               add_generation_prompt=True), p.opening)
                for p in prompts]

    def write(self, images: list[list[Image.Image]], prompts: list[Prompt], settings: GenerationSettings,
              seed: int) -> list[list[str]]:
        """`settings.candidates` raw candidates per prompt, all prompts in one generate call. `images` are each
        prompt's photos in post order, as many as its `Prompt.images` (one image placeholder each)."""
        with self.use():
            inputs = self.processor(text=self.prompt_texts(prompts), images=[list(shown) for shown in images],
                                    return_tensors="pt", padding=True)
            inputs = to_device(inputs, self.runtime.device, self.model.dtype)
            new = sample(self.model, inputs, settings, seed, tokenizer=self.processor.tokenizer,
                         num_return_sequences=settings.candidates)
            texts = decode(self.processor.tokenizer, new, settings)
        groups = grouped(texts, settings.candidates)
        return [[_continue(p.opening, t) for t in group] for p, group in zip(prompts, groups, strict=True)]

    def special_tokens(self) -> list[str]:
        return list(self.processor.tokenizer.all_special_tokens) if self.loaded else []


class Describer(CaptionModel):
    """An image-to-text model (BLIP, GIT, ...) that says what the photo shows, for the writer."""

    key = "describer"
    weights = ("model", "processor")

    def _load(self) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(self.model_id)
        model = AutoModelForImageTextToText.from_pretrained(self.model_id, dtype=self.runtime.dtype)
        self.model = self._finish(model)

    def describe(self, images: list[Image.Image]) -> list[str]:
        """One short description per image, greedy (the same photo is always described the same way)."""
        import torch

        with self.use():
            kwargs: dict[str, Any] = {"images": images, "return_tensors": "pt"}
            if templates.DESCRIBE_PREFIX:
                kwargs["text"] = [templates.DESCRIBE_PREFIX] * len(images)
            inputs = to_device(self.processor(**kwargs), self.runtime.device, self.model.dtype)
            with torch.inference_mode():
                out = self.model.generate(**inputs, do_sample=False, max_new_tokens=DESCRIPTION_TOKENS,
                                          no_repeat_ngram_size=3)
            texts = self.processor.batch_decode(out, skip_special_tokens=True)
        return [" ".join(t.split()) for t in texts]


class Writer(CaptionModel):
    """A causal language model that writes the caption from the prompt (chat template when it has one)."""

    key = "writer"
    weights = ("model", "tokenizer")

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.model_id)
        _pad_left(tokenizer)
        model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=self.runtime.dtype)
        self.tokenizer, self.model = tokenizer, self._finish(model)

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def prompt_texts(self, prompts: list[Prompt]) -> list[str]:
        if not self.chat:
            return [p.plain() for p in prompts]
        return [_with_start(self.tokenizer.apply_chat_template(p.messages(with_image=False), tokenize=False,
                                                               add_generation_prompt=True), p.opening)
                for p in prompts]

    def write(self, prompts: list[Prompt], settings: GenerationSettings, seed: int) -> list[list[str]]:
        """`settings.candidates` raw candidates per prompt, all prompts in one generate call."""
        with self.use():
            # A chat template writes its own BOS; a plain prompt gets the tokenizer's usual special tokens.
            inputs = self.tokenizer(self.prompt_texts(prompts), return_tensors="pt", padding=True,
                                    add_special_tokens=not self.chat)
            inputs = to_device(inputs, self.runtime.device, self.model.dtype)
            new = sample(self.model, inputs, settings, seed, tokenizer=self.tokenizer,
                         num_return_sequences=settings.candidates)
            texts = decode(self.tokenizer, new, settings)
        groups = grouped(texts, settings.candidates)
        return [[_continue(p.opening, t) for t in group] for p, group in zip(prompts, groups, strict=True)]

    def special_tokens(self) -> list[str]:
        return list(self.tokenizer.all_special_tokens) if self.loaded else []


def limit_image_size(processor: Any, longest_edge: int | None) -> None:
    """Show the chat VLM the photo at `longest_edge` px (models.caption_image_px) instead of its processor's default.

    For SmolVLM/Idefics3-style processors, which cut the photo into tiles of `max_image_size` plus a global view:
    SmolVLM2's default 1536 px makes a 4:3 photo 13 tiles (1,053 image tokens); 768 px makes 5 (405). Other
    processors keep their own sizing (their size keys mean other things, e.g. a pixel count for Qwen2-VL).
    """
    images = getattr(processor, "image_processor", None)
    tile = getattr(images, "max_image_size", None)
    if not longest_edge or not isinstance(tile, dict) or "longest_edge" not in tile:
        return
    # Whole tiles: the processor rounds the resized photo up to a multiple of the tile anyway.
    edge = max(tile["longest_edge"], round(longest_edge / tile["longest_edge"]) * tile["longest_edge"])
    images.size = {"longest_edge": edge}
