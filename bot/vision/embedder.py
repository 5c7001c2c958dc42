"""The image embedder: one L2-normalised vector per image or animal crop, and per text where the model can.

Any image backbone AutoModel loads works: DINOv2-style and convolutional models (pooled output, timm-wrapped
ones included) and CLIP/SigLIP-style ones (image features).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from bot.runtime.ml import ManagedModel, Runtime

CROP_PAD = 0.1  # share of the box's size added on each side: a little context helps recognition
CHUNK = 64  # crops per forward pass, to bound memory when a batch holds many animals


class Embedder(ManagedModel):
    """A ManagedModel around a transformers image (or image-text) model."""

    key = "embedder"
    weights = ("model", "processor", "tokenizer")

    def __init__(self, model_id: str, runtime: Runtime) -> None:
        super().__init__(model_id, runtime)
        self.identity = embedder_identity(model_id)

    def _load(self) -> None:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.processor = AutoImageProcessor.from_pretrained(self.model_id)
        self.model = AutoModel.from_pretrained(self.model_id, dtype=self.runtime.dtype).to(self.runtime.device).eval()
        self.tokenizer = None
        if hasattr(self.model, "get_text_features"):
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(self.model_id)
            except Exception:  # an image-only checkpoint of a CLIP-like model still embeds images
                self.tokenizer = None

    @property
    def can_embed_text(self) -> bool:
        self.load()
        return self.tokenizer is not None

    def embed(self, images: list[Any]) -> np.ndarray:
        """(n, dim) float32, each row L2-normalised."""
        if not images:
            return np.zeros((0, 0), dtype=np.float32)
        import torch

        parts = []
        with self.use(), torch.inference_mode():
            for start in range(0, len(images), CHUNK):
                inputs = self.processor(images=images[start:start + CHUNK], return_tensors="pt")
                pixels = inputs["pixel_values"].to(self.model.device, dtype=self.model.dtype)
                if hasattr(self.model, "get_image_features"):
                    features = _pooled(self.model.get_image_features(pixel_values=pixels))
                else:
                    features = _image_feature(self.model(pixel_values=pixels))
                parts.append(features.float().reshape(len(features), -1).cpu().numpy())
        return normalise(np.concatenate(parts))

    def embed_texts(self, texts: list[str]) -> np.ndarray | None:
        """(n, dim) float32 in the image space, or None when the model cannot read text (e.g. DINOv2)."""
        if not self.can_embed_text:
            return None
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        import torch

        with self.use(), torch.inference_mode():
            # SigLIP was trained on max-length padded text; CLIP masks the padding either way.
            padding = "max_length" if "siglip" in self.model.config.model_type else True
            tokens = self.tokenizer(texts, padding=padding, truncation=True, return_tensors="pt")
            tokens = {k: v.to(self.model.device) for k, v in tokens.items()}
            features = _pooled(self.model.get_text_features(**tokens))
            return normalise(features.float().cpu().numpy())


def _image_feature(out: Any) -> Any:
    """One vector per image from a backbone's output: its pooled output where it has one (DINOv2, timm-wrapped
    and convolutional models such as EfficientNet or ResNet), else the class token of a vision transformer, or the
    spatial mean of a feature map."""
    pooled = getattr(out, "pooler_output", None)
    if pooled is not None:
        return pooled
    hidden = out.last_hidden_state
    return hidden.mean(dim=(2, 3)) if hidden.dim() == 4 else hidden[:, 0]


def _pooled(out: Any) -> Any:
    # transformers 5 returns an output object from get_*_features; older versions a tensor.
    return out.pooler_output if hasattr(out, "pooler_output") else out


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embedder_identity(model_id: str) -> str:
    """The cache key of an embedder: its id, plus a fingerprint of the weights for a local folder.

    A hub id names fixed weights; a local folder can be overwritten in place, so its config and weight files'
    sizes and times are part of the key and a replaced model never reuses old vectors.
    """
    folder = Path(model_id).expanduser()
    if not folder.is_dir():
        return model_id
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name == "config.json":
            digest.update(path.read_bytes())
        elif path.suffix in (".safetensors", ".bin", ".pt"):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{model_id}#{digest.hexdigest()[:12]}"


def padded_crop(image: Any, box: tuple[float, float, float, float] | list[float] | None) -> Any:
    """The animal with CROP_PAD context on each side, clipped to the image; the whole image for no box."""
    if not box:
        return image
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * CROP_PAD, (y1 - y0) * CROP_PAD
    left, top = max(0, math.floor(x0 - pad_x)), max(0, math.floor(y0 - pad_y))
    right, bottom = min(image.width, math.ceil(x1 + pad_x)), min(image.height, math.ceil(y1 + pad_y))
    if right - left < 2 or bottom - top < 2:
        return image
    return image.crop((left, top, right, bottom))
