"""The animal detector: finds the configured species in a batch of photos, one model pass per batch.

Zero-shot detectors (OWLv2, OWL-ViT, Grounding DINO) are asked for "a photo of a {species}"; closed-set ones
(DETR, RT-DETR) keep the labels named like a species. Which kind a model is comes from its config. With
`detector = "none"` nothing is loaded and nothing is found: each whole photo is taken as one animal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.errors import ModelUnavailable
from bot.runtime.ml import ManagedModel, Runtime

QUERY = "a photo of a {species}"
MAX_ANIMALS = 10  # per photo; more boxes than this are almost always duplicates or noise
NMS_IOU = 0.5
MIN_SIDE = 4  # pixels; smaller boxes cannot be told apart anyway
NO_DETECTOR = "none"  # models.detector value: no detector, the whole photo is one animal


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the image's pixels
    score: float
    label: str  # the species

    def to_json(self) -> dict[str, Any]:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4), "label": self.label}


class Detector(ManagedModel):
    """A ManagedModel around a transformers object detector."""

    key = "detector"
    weights = ("model", "processor")

    def __init__(self, model_id: str, runtime: Runtime) -> None:
        super().__init__(model_id, runtime)
        self.kind: str | None = None  # "zero-shot" or "closed-set", known once loaded
        self.model_type: str | None = None

    @property
    def disabled(self) -> bool:
        return self.model_id.strip().lower() == NO_DETECTOR

    def load(self) -> None:
        if not self.disabled:  # "none" has nothing to load
            super().load()

    def _load(self) -> None:
        from transformers import (
            AutoConfig,
            AutoImageProcessor,
            AutoModelForObjectDetection,
            AutoModelForZeroShotObjectDetection,
            AutoProcessor,
        )
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES,
            MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES,
        )

        config = AutoConfig.from_pretrained(self.model_id)
        self.model_type = config.model_type
        if config.model_type in MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES:
            self.kind, auto, processor = "zero-shot", AutoModelForZeroShotObjectDetection, AutoProcessor
        elif config.model_type in MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES:
            self.kind, auto, processor = "closed-set", AutoModelForObjectDetection, AutoImageProcessor
        else:
            raise ModelUnavailable(self.key, self.model_id, f"it is a {config.model_type!r} model, not an object "
                                   "detector; use e.g. google/owlv2-base-patch16-ensemble or facebook/detr-resnet-50")
        self.processor = processor.from_pretrained(self.model_id)
        self.model = auto.from_pretrained(self.model_id, dtype=self.runtime.dtype).to(self.runtime.device).eval()

    def detect(self, images: list[Any], species: list[str], threshold: float) -> list[list[Detection]]:
        """The animals of `species` in each image, best first, at most MAX_ANIMALS each; one model pass."""
        if not images or self.disabled:
            return [[] for _ in images]
        import torch

        species = sorted({s.lower() for s in species}) or ["dog", "cat"]
        with self.use(), torch.inference_mode():
            sizes = [(im.height, im.width) for im in images]
            if self.kind == "zero-shot":
                raw = self._zero_shot(images, species, threshold, sizes)
            else:
                raw = self._closed_set(images, species, threshold, sizes)
        return [_clean(found, w, h) for found, (h, w) in zip(raw, sizes, strict=True)]

    def _zero_shot(self, images: list[Any], species: list[str], threshold: float,
                   sizes: list[tuple[int, int]]) -> list[list[Detection]]:
        queries = [QUERY.format(species=s) for s in species]
        if "grounding" in (self.model_type or ""):
            # Grounding DINO takes one period-separated prompt and reports the matched phrase.
            prompt = " ".join(q + "." for q in queries)
            inputs = self.processor(images=images, text=[prompt] * len(images), return_tensors="pt")
            outputs = self.model(**_to_model(inputs, self.model))
            _as_float(outputs)
            results = self.processor.post_process_grounded_object_detection(
                outputs, inputs["input_ids"], threshold=threshold, text_threshold=threshold, target_sizes=sizes)
            return [[Detection(tuple(b.tolist()), float(s), _species_in(str(t), species))
                     for b, s, t in zip(r["boxes"], r["scores"], r.get("text_labels", r.get("labels")), strict=True)]
                    for r in results]
        inputs = self.processor(images=images, text=[queries] * len(images), return_tensors="pt")
        outputs = self.model(**_to_model(inputs, self.model))
        _as_float(outputs)
        # OWLv2 pads to a square; its post-processing maps boxes back to these (original) sizes.
        results = self.processor.post_process_grounded_object_detection(outputs, threshold=threshold,
                                                                        target_sizes=sizes)
        return [[Detection(tuple(b.tolist()), float(s), species[int(i)])
                 for b, s, i in zip(r["boxes"], r["scores"], r["labels"], strict=True)] for r in results]

    def _closed_set(self, images: list[Any], species: list[str], threshold: float,
                    sizes: list[tuple[int, int]]) -> list[list[Detection]]:
        labels = {int(i): str(name).lower() for i, name in self.model.config.id2label.items()}
        wanted = {i: _species_in(name, species) for i, name in labels.items() if _species_in(name, species)}
        inputs = self.processor(images=images, return_tensors="pt")
        outputs = self.model(**_to_model(inputs, self.model))
        _as_float(outputs)
        results = self.processor.post_process_object_detection(outputs, threshold=threshold, target_sizes=sizes)
        return [[Detection(tuple(b.tolist()), float(s), wanted[int(i)])
                 for b, s, i in zip(r["boxes"], r["scores"], r["labels"], strict=True) if int(i) in wanted]
                for r in results]

    def labels_for(self, species: list[str]) -> list[str]:
        """For a loaded closed-set model: which of `species` it can find at all (doctor, eval)."""
        if self.kind != "closed-set":
            return list(species)
        names = [str(n).lower() for n in self.model.config.id2label.values()]
        return [s for s in species if any(_species_in(n, [s.lower()]) for n in names)]


def _species_in(name: str, species: list[str]) -> str:
    """The configured species a label names ('dog' in 'a photo of a dog', 'cat' for 'cats'), or ''."""
    words = name.lower().replace(".", " ").split()
    for s in species:
        if s in words or s + "s" in words or s == name.lower():
            return s
    return ""


def _to_model(inputs: Any, model: Any) -> dict[str, Any]:
    """Processor outputs on the model's device, floating tensors in the model's dtype (bf16 on a GPU)."""
    out = {}
    for key, value in inputs.items():
        if hasattr(value, "to"):
            value = value.to(model.device, dtype=model.dtype) if value.is_floating_point() else value.to(model.device)
        out[key] = value
    return out


def _as_float(outputs: Any) -> None:
    # Post-processing does arithmetic that bf16 would round badly; boxes and scores are tiny anyway.
    for key in ("logits", "pred_boxes"):
        value = getattr(outputs, key, None)
        if value is not None:
            outputs[key] = value.float().cpu()


def _clean(found: list[Detection], width: int, height: int) -> list[Detection]:
    """Clip to the image, drop slivers, and keep one box per animal (class-agnostic non-maximum suppression)."""
    boxes = []
    for d in sorted(found, key=lambda d: d.score, reverse=True):
        x0, y0, x1, y1 = d.box
        box = (max(0.0, min(x0, x1)), max(0.0, min(y0, y1)), min(float(width), max(x0, x1)),
               min(float(height), max(y0, y1)))
        if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
            continue
        if all(iou(box, kept.box) < NMS_IOU for kept in boxes):
            boxes.append(Detection(box, d.score, d.label))
        if len(boxes) == MAX_ANIMALS:
            break
    return boxes


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
