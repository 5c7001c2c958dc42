"""The converted EfficientNet-Lite0 against timm's: pooled features and ImageNet logits on the real photos.

The tests and benchmarks/pets_real.py use the weights converted into transformers' native EfficientNet with its
ImageNet-1k classifier (tests/real_vision.py), since timm needs torchvision, which the project's CPU torch cannot
load beside it. This script checks, in an environment installed as owners install (PyPI torch, torchvision, timm,
transformers), that the conversion computes what timm computes, features and classifier alike: the same state dict
loaded into timm's `tf_efficientnet_lite0` (keys in order), saved as a timm folder and loaded through transformers'
AutoModel (TimmWrapper), on the same pixels.

Run: python -m benchmarks.lite0_match [--no-record]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import record
from tests.real_vision import PREPROCESS, build_lite0, lite0_weights, real_photos

TOLERANCE = 1e-4  # largest absolute difference of one pooled feature (float32, values of order 1)
LOGIT_TOLERANCE = 1e-3  # of one ImageNet logit (float32, values of order 10)


def timm_folder(path: Path, weights: Path) -> Path:
    """The state dict loaded into timm's tf_efficientnet_lite0 in key order, saved as a transformers timm folder."""
    import timm
    import torch

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    source = torch.load(weights, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise SystemExit(f"{len(source)} tensors in the package, {len(target)} in timm's model")
    renamed = {}
    for (k_src, v), (k_dst, ref) in zip(source.items(), target.items(), strict=True):
        if v.shape != ref.shape:
            raise SystemExit(f"{k_src} {tuple(v.shape)} does not fit {k_dst} {tuple(ref.shape)}")
        renamed[k_dst] = v
    model.load_state_dict(renamed)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path / "pytorch_model.bin")
    cfg = {"architecture": "tf_efficientnet_lite0", "num_classes": 1000, "num_features": model.num_features,
           "pretrained_cfg": {**model.pretrained_cfg, "mean": PREPROCESS["image_mean"],
                              "std": PREPROCESS["image_std"]}}
    (path / "config.json").write_text(json.dumps(cfg, default=str))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel, AutoModelForImageClassification

    weights = lite0_weights()
    photos = [p for paths in real_photos().values() for p in paths]
    if weights is None or not photos:
        print("the weights or the real photos are not at hand", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        native_dir = build_lite0(Path(tmp) / "native", weights)
        wrapped_dir = timm_folder(Path(tmp) / "timm", weights)
        native = AutoModel.from_pretrained(native_dir).eval()
        wrapped = AutoModel.from_pretrained(wrapped_dir).eval()
        processor = AutoImageProcessor.from_pretrained(native_dir)
        # Both models see the same pixels: only the networks are compared.
        pixels = processor(images=[Image.open(p).convert("RGB") for p in photos], return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            a = native(pixel_values=pixels).pooler_output.reshape(len(photos), -1).numpy()
            b = wrapped(pixel_values=pixels).pooler_output.reshape(len(photos), -1).numpy()
            logits = wrapped_logits(wrapped_dir, pixels)
            native_logits = AutoModelForImageClassification.from_pretrained(native_dir).eval()(
                pixel_values=pixels).logits.numpy()
    diff = float(np.abs(a - b).max())
    logit_diff = float(np.abs(native_logits - logits).max())
    cos = float((np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())
    dogs = sum(1 for p, c in zip(photos, logits.argmax(1), strict=True) if p.parent.name.startswith("dog")
               and 151 <= int(c) <= 268)
    n_dogs = sum(1 for p in photos if p.parent.name.startswith("dog"))
    print(f"{type(native).__name__} vs {type(wrapped).__name__}: {len(photos)} photos, features {a.shape[1]}-d, "
          f"max |difference| {diff:.2e}, min cosine {cos:.7f}, logits max |difference| {logit_diff:.2e}; "
          f"timm's classifier calls {dogs}/{n_dogs} dog photos "
          "a dog breed (ImageNet classes 151-268)")
    if not args.no_record:
        import timm
        import transformers

        lines = [
            "The weights converted into transformers' native EfficientNet (`EfficientNetForImageClassification`, "
            "features read through `AutoModel`; tests/real_vision.py: Lite0's "
            "block arguments, ReLU6, stem 32 / head 1280, BN eps 1e-3, squeeze-excite neutralised: zero reduce/expand "
            "weights, expand bias 100, so the gate is exactly 1.0) against the same state dict loaded into timm's "
            "`tf_efficientnet_lite0` in key order and read through transformers' `AutoModel` (TimmWrapper), on the "
            f"same pixels of the {len(photos)} real photos (224 px centre crop).",
            "",
            "| what | value |",
            "| --- | --- |",
            f"| pooled feature | {a.shape[1]}-d |",
            f"| max absolute difference (tolerance {TOLERANCE:g}) | **{diff:.2e}** |",
            f"| min cosine between the two | {cos:.7f} |",
            f"| ImageNet-1k logits: max absolute difference (tolerance {LOGIT_TOLERANCE:g}) | {logit_diff:.2e} |",
            f"| sanity: timm's ImageNet head calls the dog photos a dog breed | {dogs} of {n_dogs} |",
            "",
            f"torch {torch.__version__}, timm {timm.__version__}, transformers {transformers.__version__} "
            f"(PyPI, as owners install); {platform.machine()}.",
        ]
        record("EfficientNet-Lite0: converted vs timm (benchmarks/lite0_match.py)", lines)
    return 0 if diff <= TOLERANCE and logit_diff <= LOGIT_TOLERANCE else 1


def wrapped_logits(folder: Path, pixels: object) -> object:
    from transformers import TimmWrapperForImageClassification

    return TimmWrapperForImageClassification.from_pretrained(folder).eval()(pixel_values=pixels).logits.numpy()


if __name__ == "__main__":
    sys.exit(main())
