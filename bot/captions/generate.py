"""Sampling settings and the one batched `generate` call that writes several candidates for several photos.

Every backend goes through `sample`, so seeding, bounds and the tokens a caption may never contain are shared.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.config import CaptionsConfig

T = TypeVar("T")


@dataclass(frozen=True)
class GenerationSettings:
    candidates: int = 4
    max_new_tokens: int = 60
    temperature: float = 0.9
    top_p: float = 0.92
    repetition_penalty: float = 1.15
    no_repeat_ngram_size: int = 3
    # Only benchmarks set this (equal to max_new_tokens) so that compared runs generate the same token count.
    min_new_tokens: int | None = None
    # A caption is one paragraph: generation ends at its first line break (small models start a second answer,
    # a list or a signature there; the rules add the hashtags on their own line).
    stop_strings: tuple[str, ...] = ("\n",)

    @classmethod
    def from_config(cls, captions: CaptionsConfig) -> GenerationSettings:
        return cls(
            candidates=captions.candidates,
            max_new_tokens=captions.max_new_tokens,
            temperature=captions.temperature,
            top_p=captions.top_p,
            repetition_penalty=captions.repetition_penalty,
            no_repeat_ngram_size=captions.no_repeat_ngram_size,
        )


def new_seed() -> int:
    return secrets.randbelow(2**31 - 1)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), max(1, size)):
        yield items[i:i + size]


def grouped(items: Sequence[T], n: int) -> list[list[T]]:
    """generate() returns a prompt's `num_return_sequences` outputs next to each other; regroup them."""
    return [list(items[i:i + n]) for i in range(0, len(items), n)]


def suppressed_ids(tokenizer: Any, keep: Sequence[int]) -> list[int]:
    """Special and added-special token ids a caption must never contain (image placeholders, role markers)."""
    ids = set(tokenizer.all_special_ids)
    for token_id, token in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(token, "special", False):
            ids.add(token_id)
    return sorted(ids - set(keep))


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    found = model.generation_config.eos_token_id
    ids = list(found) if isinstance(found, list | tuple) else [found] if found is not None else []
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))


# Decoder families whose positions come from the attention mask alone (plain RoPE), so that a prompt's cache can
# be computed once and shared by its candidates. Others (e.g. Qwen2-VL's multimodal RoPE) take the plain path.
SHARED_PREFILL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "granite",
                                  "smollm3", "idefics3", "smolvlm"})


def can_share_prefill(model: Any) -> bool:
    return getattr(model.config, "model_type", None) in SHARED_PREFILL_TYPES


def sample(model: Any, inputs: dict[str, Any], settings: GenerationSettings, seed: int, *, tokenizer: Any,
           num_return_sequences: int, share_prefill: bool | None = None) -> Any:
    """One sampling `generate` call for a batch of prompts; returns only the new tokens, grouped by prompt.

    With `share_prefill` (default: when the model family allows it) each prompt -- and its photo, for a VLM --
    is encoded once and its cache copied to its candidates, instead of once per candidate.
    """
    import torch
    from transformers import LogitsProcessorList, NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    prompt_length = inputs["input_ids"].shape[1]
    # The penalties apply to what the model writes, not to its prompt: the prompt names the pet (which the
    # caption must repeat) and quotes past captions (whose common phrases the caption may reuse).
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty,
                                                           prompt_ignore_length=prompt_length))
    if settings.no_repeat_ngram_size:
        processors.append(OnGenerated(NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size), prompt_length))
    torch.manual_seed(seed)  # seeds every device, so a run with the same seed and batch is reproduced
    kwargs: dict[str, Any] = {
        "do_sample": True,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        # Off in the generation config, so that a model's own defaults do not add a second, prompt-wide copy.
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "logits_processor": processors,
        "max_new_tokens": settings.max_new_tokens,
        "num_return_sequences": num_return_sequences,
        "pad_token_id": pad,
        "eos_token_id": eos or None,
        "suppress_tokens": suppressed_ids(tokenizer, eos) or None,
    }
    if settings.min_new_tokens:
        kwargs["min_new_tokens"] = settings.min_new_tokens
    elif settings.stop_strings:
        kwargs["stop_strings"] = list(settings.stop_strings)
        kwargs["tokenizer"] = tokenizer
    if share_prefill is None:
        share_prefill = can_share_prefill(model) and num_return_sequences > 1
    with torch.inference_mode():
        if share_prefill:
            inputs = prefill(model, inputs, num_return_sequences)
            kwargs["num_return_sequences"] = 1
        out = model.generate(**inputs, **kwargs)
    return out[:, prompt_length:]


def decode(tokenizer: Any, new: Any, settings: GenerationSettings) -> list[Any]:
    """The new tokens as text, each marked cut off when it ran to max_new_tokens without ending by itself
    (an end token or a stop string): the rules then keep only its finished sentences."""
    from bot.captions.rules import Generated

    ends = set(eos_ids_of(tokenizer))
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    out = []
    for row, text in zip(new.tolist(), texts, strict=True):
        ended = any(t in ends for t in row) or any(s in text for s in settings.stop_strings)
        out.append(Generated(text, cut_off=len(row) >= settings.max_new_tokens and not ended))
    return out


def eos_ids_of(tokenizer: Any) -> list[int]:
    ids = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    return [i for i in ids if i is not None]


def prefill(model: Any, inputs: dict[str, Any], copies: int) -> dict[str, Any]:
    """Run every prompt but its last token through the model once; return generate() inputs for `copies`
    candidates per prompt that continue from that cache (generate then feeds only the last prompt token)."""
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    # Per-token inputs (ids, mask, token types) lose their last token for the prefill; images go in whole.
    per_token = {k for k, v in inputs.items() if hasattr(v, "shape") and tuple(v.shape[:2]) == tuple(ids.shape)}
    prefix = {k: v[:, :-1] if k in per_token else v for k, v in inputs.items()}
    # The positions generate() itself derives from a left-padded mask.
    prefix["position_ids"] = ((mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0))[:, :-1]
    cache = model(**prefix, use_cache=True, logits_to_keep=1).past_key_values
    cache.batch_repeat_interleave(copies)
    return {**{k: inputs[k].repeat_interleave(copies, dim=0) for k in per_token}, "past_key_values": cache}


class OnGenerated:
    """A logits processor applied to the generated tokens only (the prompt is left-padded to one length)."""

    def __init__(self, inner: Any, prompt_length: int) -> None:
        self.inner, self.prompt_length = inner, prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        return self.inner(input_ids[:, self.prompt_length:], scores)


def to_device(inputs: Any, device: str, dtype: Any) -> dict[str, Any]:
    """Processor outputs on the model's device; floating tensors (pixels) in the model's dtype."""
    moved = {}
    for key, value in dict(inputs).items():
        if hasattr(value, "to"):
            value = value.to(device)
            if value.is_floating_point():
                value = value.to(dtype)
        moved[key] = value
    return moved
