"""The memory estimator: GPU memory a model's weights take and what one more photo (or training example) adds.

Used before the first batch has been measured (bot.runtime.budget learns the real figure afterwards) and by
`benchmarks/gpu_fit.py`. Method, per component, for a batch of photos on a GPU in bf16/fp16:

- weights: the exact parameter count (the model is built on torch's "meta" device: no memory, no download
  beyond its config) times the bytes of the dtype.
- chat VLM, per photo: (a) the vision tower's activations for every tile of the photo (one layer at a time in
  inference: about 4 hidden-size tensors plus the MLP's intermediate per patch; with eager attention also the
  fp32 score matrix heads x patches^2); (b) the language model's prefill over prompt + image tokens, one layer
  at a time (4 hidden + 2 intermediate per token; eager attention adds heads x tokens^2 fp32 scores), plus the
  logits: one position when only the last is kept, every prompt position in fp32 otherwise; (c) the KV cache:
  layers x 2 x kv-heads x head-dim per token, for the prompt once plus `candidates` copies that also hold the
  new tokens (the shared prefill is copied to each candidate; the original lives until the copy is made),
  or `candidates` full prompts without a shared prefill; (d) sampling buffers: candidates x vocabulary fp32 logits,
  sorted for top-p (12 bytes each). (a) and (b) are transient and do not overlap, so the larger counts.
- image tokens: the processor's tiling, reproduced: the photo resized to `image_px` on its long side, cut
  into ceil(side / tile) tiles each way, plus one downscaled global tile when it is split, each tile
  (tile / patch)^2 / scale^2 tokens after the pixel shuffle.
- detector / embedder per photo: the vision transformer's activations at its input resolution (as (a)),
  the embedder once per animal crop.
- training, per example: the stored activations of every layer (about 34 x hidden bytes per token per layer in
  16-bit, the usual transformer figure, plus 5 x heads x tokens with eager attention), or with gradient
  checkpointing one hidden state per layer plus one layer's full set; plus the logits of the positions the loss
  reads (16-bit, fp32 upcast and its gradient: 10 bytes per vocabulary entry).

Every figure is allocated memory; `ALLOCATOR_OVERHEAD` turns it into what nvidia-smi shows (the caching
allocator's fragmentation and the CUDA context), so plans and estimates compare with the card's own numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MIB = 2**20
# What nvidia-smi shows over the allocated peak: the caching allocator's reserve/fragmentation (growing KV caches
# are re-allocated every token) and the CUDA context. 1.25x + 500 MiB is a common rule of thumb; the benchmark
# compares it with the one GPU measurement this project has (see benchmarks/gpu_fit.py).
ALLOCATOR_OVERHEAD = 1.25
CUDA_CONTEXT_MIB = 500.0
PROMPT_TEXT_TOKENS = 300  # the caption prompt without the image: pets, voice, style examples, hint
ANIMALS_PER_PHOTO = 2  # crops the embedder sees per photo (plus the whole photo), for the estimate


@dataclass
class Footprint:
    """One model's memory: its weights, and what each item of a batch adds at the peak (MiB)."""

    name: str
    weights_mib: float
    per_item_mib: float
    parts: dict[str, float] = field(default_factory=dict)  # per-item breakdown, MiB

    def peak_mib(self, batch: int) -> float:
        return self.weights_mib + batch * self.per_item_mib


def dtype_bytes(dtype: Any) -> int:
    text = str(dtype)
    return 4 if "32" in text else 1 if "8" in text and "16" not in text else 2


def param_count(config: Any, auto_class: Any) -> int:
    """Exact parameter count: the model built from its config on the meta device (no memory used)."""
    import torch

    build = getattr(auto_class, "from_config", auto_class)  # an Auto class, or the model class itself
    with torch.device("meta"):
        model = build(config)
    return sum(p.numel() for p in model.parameters())


def weights_mib(params: int, bytes_per: int = 2) -> float:
    return params * bytes_per / MIB


# -- pieces -------------------------------------------------------------------------------------

def _get(config: Any, name: str, default: Any = None) -> Any:
    return config.get(name, default) if isinstance(config, dict) else getattr(config, name, default)


def text_dims(text: Any) -> dict[str, int]:
    hidden = int(_get(text, "hidden_size"))
    heads = int(_get(text, "num_attention_heads"))
    kv = int(_get(text, "num_key_value_heads") or heads)
    head_dim = int(_get(text, "head_dim") or hidden // heads)
    return {"hidden": hidden, "heads": heads, "kv_heads": kv, "head_dim": head_dim,
            "layers": int(_get(text, "num_hidden_layers")), "vocab": int(_get(text, "vocab_size")),
            "intermediate": int(_get(text, "intermediate_size") or 4 * hidden)}


def kv_bytes_per_token(text: Any, bytes_per: int = 2) -> int:
    d = text_dims(text)
    return d["layers"] * 2 * d["kv_heads"] * d["head_dim"] * bytes_per


def vit_activation_mib(vision: Any, images: int, *, patches: int | None = None, eager: bool = False,
                       bytes_per: int = 2) -> float:
    """Inference activations of a vision transformer over `images` inputs, one layer at a time."""
    hidden = int(_get(vision, "hidden_size"))
    inter = int(_get(vision, "intermediate_size") or 4 * hidden)
    heads = int(_get(vision, "num_attention_heads"))
    if patches is None:
        size, patch = _get(vision, "image_size"), _get(vision, "patch_size")
        size = size[0] if isinstance(size, list | tuple) else size
        patch = patch[0] if isinstance(patch, list | tuple) else patch
        patches = (int(size) // int(patch)) ** 2 + 1
    tokens = images * patches
    total = tokens * (4 * hidden + inter) * bytes_per
    if eager:
        total += images * heads * patches**2 * 4
    return total / MIB


def image_tokens(image_px: int, *, tile: int, patch: int, scale: int, aspect: float = 4 / 3,
                 splitting: bool = True) -> tuple[int, int]:
    """(tiles, image tokens) the Idefics3/SmolVLM processor makes of a photo of `aspect` at `image_px`."""
    per_tile = (tile // patch) ** 2 // scale**2
    long_side = max(tile, math.ceil(image_px / tile) * tile) if splitting else tile
    short_side = max(1, round(long_side / aspect))
    if not splitting or long_side <= tile:
        return 1, per_tile
    tiles = math.ceil(long_side / tile) * math.ceil(short_side / tile) + 1  # + the global view
    return tiles, tiles * per_tile


# -- whole models ---------------------------------------------------------------------------------

def chat_vlm(config: Any, *, image_px: int, candidates: int, new_tokens: int, params: int | None = None,
             prompt_text_tokens: int = PROMPT_TEXT_TOKENS, attention: str = "sdpa", share_prefill: bool = True,
             full_logits: bool = False, bytes_per: int = 2) -> Footprint:
    """An Idefics3/SmolVLM-style chat VLM writing `candidates` captions per photo."""
    text, vision = _get(config, "text_config"), _get(config, "vision_config")
    tile, patch = int(_get(vision, "image_size")), int(_get(vision, "patch_size"))
    scale = int(_get(config, "scale_factor") or 1)
    tiles, img_tokens = image_tokens(image_px, tile=tile, patch=patch, scale=scale)
    prompt = img_tokens + prompt_text_tokens
    d = text_dims(text)
    eager = attention == "eager"
    vision_mib = vit_activation_mib(vision, tiles, patches=(tile // patch) ** 2, eager=eager, bytes_per=bytes_per)
    prefill = prompt * (4 * d["hidden"] + 2 * d["intermediate"]) * bytes_per
    if eager:
        prefill += d["heads"] * prompt**2 * 4
    logits = (prompt if full_logits else 1) * d["vocab"] * 4
    prefill_mib = (prefill + logits) / MIB
    kv = kv_bytes_per_token(text, bytes_per)
    if share_prefill:
        cache = (prompt + candidates * (prompt + new_tokens)) * kv
    else:
        cache = candidates * (prompt + new_tokens) * kv
    sampling = candidates * d["vocab"] * 12
    parts = {"image_tokens": float(img_tokens), "tiles": float(tiles), "vision_activations": vision_mib,
             "prefill_activations": prefill_mib, "kv_cache": cache / MIB, "sampling": sampling / MIB}
    per_item = max(vision_mib, prefill_mib) + (cache + sampling) / MIB
    weights = weights_mib(params, bytes_per) if params else 0.0
    return Footprint("captioner", weights, per_item, parts)


def writer(config: Any, *, candidates: int, new_tokens: int, params: int | None = None,
           prompt_tokens: int = PROMPT_TEXT_TOKENS + 40, bytes_per: int = 2) -> Footprint:
    """A causal LM writer: the VLM's language half without the image."""
    d = text_dims(config)
    kv = kv_bytes_per_token(config, bytes_per)
    prefill = (prompt_tokens * (4 * d["hidden"] + 2 * d["intermediate"]) * bytes_per + d["vocab"] * 4) / MIB
    cache = (prompt_tokens + candidates * (prompt_tokens + new_tokens)) * kv / MIB
    sampling = candidates * d["vocab"] * 12 / MIB
    weights = weights_mib(params, bytes_per) if params else 0.0
    return Footprint("writer", weights, prefill + cache + sampling,
                     {"prefill_activations": prefill, "kv_cache": cache, "sampling": sampling})


def vision_model(name: str, vision: Any, *, images_per_item: float = 1.0, params: int | None = None,
                 image_px: int | None = None, bytes_per: int = 2) -> Footprint:
    """A ViT-based detector or embedder: activations for `images_per_item` inputs per photo."""
    patches = None
    if image_px:
        patch = _get(vision, "patch_size")
        patch = patch[0] if isinstance(patch, list | tuple) else patch
        patches = (image_px // int(patch)) ** 2 + 1
    act = vit_activation_mib(vision, 1, patches=patches, bytes_per=bytes_per) * images_per_item
    weights = weights_mib(params, bytes_per) if params else 0.0
    return Footprint(name, weights, act, {"activations": act})


def training_example_mib(text: Any, tokens: int, *, loss_tokens: int, checkpointing: bool,
                         attention: str = "sdpa", bytes_per: int = 2) -> float:
    """Activation memory one training example of `tokens` tokens adds (LoRA: weights' gradients are tiny)."""
    d = text_dims(text)
    per_layer = tokens * d["hidden"] * 34 * bytes_per / 2  # 34 bytes/hidden/token in 16-bit (Korthikanti et al.)
    if attention == "eager":
        per_layer += 5 * d["heads"] * tokens**2 * bytes_per / 2
    # With checkpointing only each layer's input is kept, and one layer's full set while it is recomputed.
    stored = d["layers"] * tokens * d["hidden"] * bytes_per + per_layer if checkpointing else d["layers"] * per_layer
    logits = loss_tokens * d["vocab"] * 10
    return (stored + logits) / MIB


def observed_mib(allocated_peak_mib: float) -> float:
    """Allocated peak -> what nvidia-smi would show."""
    return allocated_peak_mib * ALLOCATOR_OVERHEAD + CUDA_CONTEXT_MIB
