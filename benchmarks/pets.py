"""Pet recognition throughput: photos per second through `Vision.analyze` at batch 1 and batch 16.

Full-size architectures with random weights (speed does not depend on the weights): OWLv2-base (patch 16, 960 px)
as the detector and DINOv2-small as the embedder, built from their configs and saved like hub checkpoints, then
loaded by the product's own code. On CUDA it also measures bf16 and the GPU memory before load, after load and
after idle unload.

Run: python -m benchmarks.pets [--single N] [--batch N] [--device cpu|cuda] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import record

REPO = Path(__file__).resolve().parents[1]


def build_models(root: Path) -> tuple[Path, Path]:
    """OWLv2-base and DINOv2-small with random weights, saved with their processors."""
    import torch
    from transformers import (
        BitImageProcessorPil,
        Dinov2Config,
        Dinov2Model,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessorPil,
        Owlv2Processor,
    )

    sys.path.insert(0, str(REPO))
    from tests.tiny_vision import clip_tokenizer

    torch.manual_seed(0)
    owl, dino = root / "owlv2-base", root / "dinov2-small"
    tokenizer, n_tokens = clip_tokenizer()
    # google/owlv2-base-patch16-ensemble: ViT-B/16 at 960 px, CLIP text tower (the tokenizer is a stand-in).
    config = Owlv2Config(
        text_config={"vocab_size": 49408, "bos_token_id": n_tokens - 2, "eos_token_id": n_tokens - 1,
                     "pad_token_id": n_tokens - 1},
        vision_config={"image_size": 960, "patch_size": 16},
    )
    Owlv2ForObjectDetection(config).eval().save_pretrained(owl)
    Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 960, "width": 960}),
                   tokenizer=tokenizer).save_pretrained(owl)
    # facebook/dinov2-small: ViT-S/14, 224 px crops.
    Dinov2Model(Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                             patch_size=14, image_size=518)).eval().save_pretrained(dino)
    BitImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                         image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(dino)
    return owl, dino


def photos(n: int) -> list[Any]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        scene = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((1024, 768), Image.BICUBIC)
        out.append(scene)
    return out


def measure(owl: Path, dino: Path, device: str, dtype: str, single: int, batch: int) -> dict[str, Any]:
    from bot.config import Config, ModelsConfig, PetConfig
    from bot.runtime.ml import Runtime, gpu_memory
    from bot.vision.identify import Vision
    from bot.vision.matching import References

    models = ModelsConfig(device=device, dtype=dtype, detector=str(owl), embedder=str(dino), batch_size=batch)
    config = Config(models=models, pets=[PetConfig(name="Lola", species="dog"), PetConfig(name="Pico", species="dog")])
    runtime = Runtime.from_config(config)
    vision = Vision(config, runtime)
    rng = np.random.default_rng(1)
    refs = References(["Lola", "Pico"], [_unit(rng.normal(size=(3, 384))) for _ in range(2)])
    images = photos(max(single, batch))
    out: dict[str, Any] = {"device": runtime.device, "dtype": str(runtime.dtype).removeprefix("torch.")}
    out["memory_before_mib"] = _allocated(gpu_memory())
    start = time.perf_counter()
    vision.detector.load()
    vision.embedder.load()
    out["load_s"] = time.perf_counter() - start
    out["memory_loaded_mib"] = _allocated(gpu_memory())
    vision.analyze(images[:1], refs)  # warm-up: first-call allocations, kernel selection

    start = time.perf_counter()
    animals = 0
    for image in images[:single]:
        animals += len(vision.analyze([image], refs)[0].animals)
    _sync()
    out["batch1_photos_per_s"] = single / (time.perf_counter() - start)

    start = time.perf_counter()
    results = vision.analyze(images[:batch], refs)
    _sync()
    out["batch_photos_per_s"] = batch / (time.perf_counter() - start)
    out["animals_per_photo"] = sum(len(r.animals) for r in results) / batch
    out["speedup"] = out["batch_photos_per_s"] / out["batch1_photos_per_s"]

    out["unloaded"] = runtime.unload_idle(now=time.monotonic() + 10**9)
    out["memory_unloaded_mib"] = _allocated(gpu_memory())
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _allocated(memory: dict[str, float] | None) -> float | None:
    return None if memory is None else round(memory["allocated_mib"], 1)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=2, help="photos analysed one at a time (default 2)")
    parser.add_argument("--batch", type=int, default=16, help="photos in the batched pass (default 16)")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="cpu, cuda, or all (CPU, and CUDA when present)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runs = []
    with tempfile.TemporaryDirectory(prefix="pawpost-bench-") as tmp:
        owl, dino = build_models(Path(tmp))
        if args.device in ("cpu", "all"):
            runs.append(measure(owl, dino, "cpu", "float32", args.single, args.batch))
        if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
            runs.append(measure(owl, dino, "cuda", "auto", args.single, args.batch))
    lines = [
        f"Vision.analyze (detect + embed every animal + match) on 1024x768 photos; OWLv2-base-patch16 at 960 px and "
        f"DINOv2-small, random weights. Batch 1: {args.single} photos one by one; batch {args.batch}: one pass.",
        "",
        f"| device | dtype | load | batch 1 | batch {args.batch} | speed-up | animals/photo | GPU MiB before / "
        "loaded / after idle unload |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        memory = ("not measured (no GPU)" if r["memory_before_mib"] is None else
                  f"{r['memory_before_mib']} / {r['memory_loaded_mib']} / {r['memory_unloaded_mib']}")
        lines.append(f"| {r['device']} | {r['dtype']} | {r['load_s']:.1f} s | {r['batch1_photos_per_s']:.3g} photos/s "
                     f"| {r['batch_photos_per_s']:.3g} photos/s | **{r['speedup']:.2f}x** | "
                     f"{r['animals_per_photo']:.1f} | {memory} |")
    if not any(r["device"].startswith("cuda") for r in runs):
        lines += ["", "GPU (bf16, memory before load / after load / after idle unload): not measured, no GPU was "
                  "available; `python -m benchmarks.pets` measures it where CUDA is present."]
    print("\n".join(lines))
    if not args.no_record:
        record("Pet recognition (benchmarks/pets.py)", lines)


if __name__ == "__main__":
    main()
