"""The image embedder: one L2-normalised vector per image or animal crop, and per text where the model can.

Any image backbone AutoModel loads works: DINOv2-style and convolutional models (pooled output, timm-wrapped
ones included) and CLIP/SigLIP-style ones (image features). A checkpoint that keeps its ImageNet-1k classifier
(an EfficientNet, ResNet, ConvNeXt or ViT saved "for image classification") also says how likely an image is to
show an animal at all: ImageNet-1k's first 398 classes, from tench to puffer, are the animals.
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
# Extra views of each image averaged into its vector (`models.embed_views = 5`): four corner crops of this share of
# its sides, beside the processor's own centre view. A pet small in the frame or off-centre is seen closer up in
# one of them, and no single crop decides. Chosen on benchmarks/pets_real.py's tuning home B.
CORNER_SHARE = 0.8
CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
IMAGENET_CLASSES = 1000
IMAGENET_ANIMALS = 398  # classes 0-397 of ImageNet-1k (in its standard order) are animals


class Embedder(ManagedModel):
    """A ManagedModel around a transformers image (or image-text) model."""

    key = "embedder"
    weights = ("model", "processor", "tokenizer", "head")

    def __init__(self, model_id: str, runtime: Runtime, views: int = 1) -> None:
        super().__init__(model_id, runtime)
        self.views = views
        self.identity = embedder_identity(model_id, views)
        self.head: Any = None  # the ImageNet-1k classifier over the pooled feature, when the checkpoint has one

    def _load(self) -> None:
        from transformers import (
            AutoConfig,
            AutoImageProcessor,
            AutoModel,
            AutoModelForImageClassification,
            AutoTokenizer,
        )

        self.processor = AutoImageProcessor.from_pretrained(self.model_id)
        self.head = None
        if imagenet_classifier(AutoConfig.from_pretrained(self.model_id).to_dict()):
            full = AutoModelForImageClassification.from_pretrained(self.model_id, dtype=self.runtime.dtype)
            head = _linear_head(full)
            if head is not None:  # the backbone embeds; the head reads the same pooled feature
                self.model, self.head = full.base_model.to(self.runtime.device).eval(), head.to(self.runtime.device)
        if self.head is None:
            self.model = AutoModel.from_pretrained(self.model_id, dtype=self.runtime.dtype)
            self.model = self.model.to(self.runtime.device).eval()
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
        """(n, dim) float32, each row L2-normalised: the mean of the image's views' normalised vectors."""
        if not images:
            return np.zeros((0, 0), dtype=np.float32)
        crops = [view for image in images for view in views(image, self.views)]
        with self.use():
            vectors = normalise(np.concatenate([f.float().cpu().numpy() for f in self._features(crops)]))
        return normalise(vectors.reshape(len(images), -1, vectors.shape[-1]).mean(axis=1))

    def animal_likelihood(self, images: list[Any]) -> np.ndarray | None:
        """Per image, the ImageNet-1k classifier's probability that it shows an animal (the sum over its animal
        classes), from the processor's own view of the whole image; None when the checkpoint has no such head."""
        self.load()
        if self.head is None:
            return None
        if not images:
            return np.zeros(0, dtype=np.float64)
        import torch

        with self.use(), torch.inference_mode():
            features = self._features(images)
            if features[0].shape[-1] != _linear_layers(self.head)[-1].in_features:  # a head over another feature
                return None
            probs = [torch.softmax(self.head(f).float(), dim=-1) for f in features]
        return torch.cat(probs)[:, :IMAGENET_ANIMALS].sum(dim=-1).double().cpu().numpy()

    def _features(self, crops: list[Any]) -> list[Any]:
        """The backbone's pooled feature of each crop, (n, dim) tensors of at most CHUNK rows (inside `use`)."""
        import torch

        parts = []
        with torch.inference_mode():
            for start in range(0, len(crops), CHUNK):
                inputs = self.processor(images=crops[start:start + CHUNK], return_tensors="pt")
                pixels = inputs["pixel_values"].to(self.model.device, dtype=self.model.dtype)
                if hasattr(self.model, "get_image_features"):
                    features = _pooled(self.model.get_image_features(pixel_values=pixels))
                else:
                    features = _image_feature(self.model(pixel_values=pixels))
                parts.append(features.reshape(len(features), -1))
        return parts

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


def imagenet_classifier(config: dict[str, Any]) -> bool:
    """Whether a checkpoint's config (config.json, as a dict) says it is an image classifier over ImageNet-1k's
    1000 classes."""
    return (any(str(a).endswith("ForImageClassification") for a in config.get("architectures") or [])
            and len(config.get("id2label") or {}) == IMAGENET_CLASSES)


def _linear_head(model: Any) -> Any:
    """The classifier of an image-classification model when it is one linear layer (maybe after a flatten), as in
    EfficientNet, ResNet, ConvNeXt and ViT, which read the pooled feature the embedder uses; else None."""
    import torch

    head = getattr(model, "classifier", None)
    layers = _linear_layers(head)
    if not layers or not all(isinstance(m, torch.nn.Flatten) for m in layers[:-1]):
        return None
    last = layers[-1]
    return head if isinstance(last, torch.nn.Linear) and last.out_features == IMAGENET_CLASSES else None


def _linear_layers(head: Any) -> list[Any]:
    """A classifier's layers in order: a Sequential's own, else the module alone."""
    import torch

    return list(head) if isinstance(head, torch.nn.Sequential) else [head]


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


def views(image: Any, count: int) -> list[Any]:
    """The image itself and, for 5 views, its four corner crops of CORNER_SHARE of each side."""
    if count == 1:
        return [image]
    w, h = round(image.width * CORNER_SHARE), round(image.height * CORNER_SHARE)
    out = [image]
    for ax, ay in CORNERS:
        left, top = int((image.width - w) * ax), int((image.height - h) * ay)
        out.append(image.crop((left, top, left + w, top + h)))
    return out


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embedder_identity(model_id: str, views: int = 1) -> str:
    """The cache key of an embedder: its id, plus a fingerprint of the weights for a local folder, plus the
    number of views averaged when more than one.

    A hub id names fixed weights; a local folder can be overwritten in place, so its config and weight files'
    sizes and times are part of the key and a replaced model never reuses old vectors.
    """
    suffix = f"+{views}views" if views != 1 else ""
    folder = Path(model_id).expanduser()
    if not folder.is_dir():
        return model_id + suffix
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name == "config.json":
            digest.update(path.read_bytes())
        elif path.suffix in (".safetensors", ".bin", ".pt"):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{model_id}#{digest.hexdigest()[:12]}{suffix}"


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
