"""Retraining speed: seconds per epoch of LoRA fine-tuning on 3,000 captions, through the product's own
`training.finetune` (same prompts, encoding, LoRA targets, optimizer), on full-size architectures with random
weights (speed does not depend on the weights), built from their configs, never downloaded.

- writer: SmolLM2-360M-Instruct's shape (the default writer of the describer+writer pair), prompts as the daemon
  builds them (pets, a description, 3 style examples), the caption as the target.
- VLM (only where CUDA exists): SmolVLM2-2.2B-Instruct's shape as an Idefics3 model (SigLIP-so400m vision at 384 px
  tiles, pixel-shuffle 3, SmolLM2-1.7B text), one 1024x768 photo per example, split into tiles as the real processor.

On the CPU a full epoch takes hours, so it times `--cpu-captions` captions (after one warm-up step) and
extrapolates to 3,000 (ceil(3000 / batch) steps x the mean step time). On CUDA it runs in bf16 (gradient
checkpointing only where the memory budget needs it, as `pawpost retrain` decides) and records the peak GPU memory.

Each speed-up is attributed: the same run is repeated with the levers of the speed path switched off one by one
(`VARIANTS`: "before" is the trainer as it was -- random batches padded to the longest, logits for every prompt
position, a VLM's pixels through the vision tower at every step, checkpointing always on CUDA). MFU counts
6 x parameters x real (unpadded) tokens per step as the model FLOPs (the usual convention; LoRA skips the weight
gradients, so the work actually done is nearer 4x), against the card's bf16 peak on CUDA or, on a CPU, the fp32
matrix-multiply rate measured on this machine at the start of the run.

Run: python -m benchmarks.retrain [--cpu-captions 64] [--gpu-captions 3000] [--vlm-captions 64] [--smoke]
     [--variants all|after] [--no-record]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness import record

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EPOCH_CAPTIONS = 3000
SMOLLM2_360M = {"hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 15,
                "num_key_value_heads": 5, "max_position_embeddings": 8192, "rope_theta": 100000.0,
                "rms_norm_eps": 1e-5, "vocab_size": 49152}
SMOLLM2_1_7B = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32,
                "num_key_value_heads": 32, "max_position_embeddings": 16384, "rope_theta": 130000.0,
                "rms_norm_eps": 1e-5, "vocab_size": 49280}
SIGLIP_SO400M_384 = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                     "num_attention_heads": 16, "image_size": 384, "patch_size": 14}
# --smoke: the same code paths on models small enough for a laptop, to check the script itself.
SMOKE_TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "max_position_embeddings": 4096, "vocab_size": 1200}
SMOKE_VISION = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                "image_size": 42, "patch_size": 14}

PETS = [{"name": "Lola", "species": "dog", "description": "a tiny fawn chihuahua, rescued in 2021",
         "personality": "sassy, loves blankets, hates rain", "hashtags": ["#lolathechihuahua"]}]


def lm_tokenizer(vlm: bool) -> Any:
    from tests.tiny_captions import LM_CHAT_TEMPLATE, VLM_CHAT_TEMPLATE, byte_bpe_tokenizer

    if vlm:
        grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
        tokenizer = byte_bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<image>",
                                        "<fake_token_around_image>", "<global-img>", *grid])
        tokenizer.add_special_tokens({"eos_token": "<end_of_utterance>", "bos_token": "<|im_start|>",
                                      "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
        return tokenizer, VLM_CHAT_TEMPLATE
    tokenizer = byte_bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "bos_token": "<|im_start|>",
                                  "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
    tokenizer.chat_template = LM_CHAT_TEMPLATE
    return tokenizer, LM_CHAT_TEMPLATE


def build_writer(folder: Path, smoke: bool) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer, _ = lm_tokenizer(vlm=False)
    config = LlamaConfig(**(SMOKE_TEXT if smoke else SMOLLM2_360M), tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_vlm(folder: Path, smoke: bool) -> Path:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    tokenizer, template = lm_tokenizer(vlm=True)
    vision = SMOKE_VISION if smoke else SIGLIP_SO400M_384
    tile = vision["image_size"]
    scale = 3
    # As SmolVLM2's processor: the photo resized to 4 tiles on its long side, cut into tiles plus a global view.
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=True, size={"longest_edge": 4 * tile},
                                                max_image_size={"longest_edge": tile})
    image_seq_len = (tile // vision["patch_size"]) ** 2 // scale**2
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len,
                                  chat_template=template)
    text = {"model_type": "llama", **(SMOKE_TEXT if smoke else SMOLLM2_1_7B),
            "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id}
    config = Idefics3Config(vision_config=vision, text_config=text, scale_factor=scale,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def captions(n: int) -> list[str]:
    """n different captions in one playful voice, 10-25 words, emojis included (as posted, hashtags removed)."""
    rng = random.Random(0)
    openers = ["Sunday mood:", "Breaking news:", "Update from the sofa:", "Dear diary,", "Hot take:", "Good morning!",
               "Plot twist:", "Today's mission:", "Confession:", "PSA:"]
    middles = ["I napped on the good blanket for six hours", "the rain tried to ruin my walk but I refused to move",
               "my human said no treats and I said absolutely not", "I guarded the sofa from a very suspicious leaf",
               "we went to the park and I made three new best friends", "the vacuum is back and I am not okay",
               "I stole a sock and ran victory laps around the kitchen", "breakfast was late by two whole minutes",
               "I found the sunny spot by the window before the cat did", "bath day happened and I will not forget"]
    closers = ["Worth it.", "Send snacks.", "No regrets.", "Tiny but mighty.", "Ask me how I feel about it.",
               "This is fine.", "Living my best life.", "Justice for chihuahuas.", "Zero apologies.", "Again tomorrow?"]
    emojis = ["🐶", "💤", "🐾", "☔", "🦴", "✨", "😤", "🧦", "☀️", "🛁"]
    out: set[str] = set()
    while len(out) < n:
        out.add(f"{rng.choice(openers)} {rng.choice(middles)}. {rng.choice(closers)} {rng.choice(emojis)}"
                f"{rng.choice(emojis) if rng.random() < 0.4 else ''}")
    return sorted(out)


def samples(backend: Any, n: int, image: Path | None) -> list[Any]:
    """The daemon's prompts (pets, a description, 3 style examples) rendered by the model, with a caption each."""
    from bot.captions.prompt import build_prompt
    from bot.config import Config
    from training.backend import Sample

    config = Config(pets=PETS, captions={"voice": "playful, first person as the dog, one or two emojis"})
    pool = captions(EPOCH_CAPTIONS)
    rng = random.Random(1)
    chosen = rng.sample(range(len(pool)), n)
    out = []
    for i in chosen:
        examples = [pool[(i + k) % len(pool)] for k in (1, 2, 3)]
        scene = None if image else "a small brown dog lying on a grey sofa under a blanket"
        prompt = build_prompt(config, ["Lola"], scene=scene, examples=examples)
        out.append(Sample(key=str(i), prompt=backend.render(prompt), target=pool[i], image=image))
    return out


# Levers of the speed path, switched off to attribute each speed-up (False: as the trainer was before).
VARIANTS: dict[str, dict[str, bool]] = {
    "before": {"buckets": False, "caption_logits": False, "features_once": False, "checkpoint_by_budget": False},
    "+ length buckets": {"buckets": True, "caption_logits": False, "features_once": False,
                         "checkpoint_by_budget": False},
    "+ caption-only logits": {"buckets": True, "caption_logits": True, "features_once": False,
                              "checkpoint_by_budget": False},
    "+ image features once": {"buckets": True, "caption_logits": True, "features_once": True,
                              "checkpoint_by_budget": False},
    "after (all)": {"buckets": True, "caption_logits": True, "features_once": True, "checkpoint_by_budget": True},
}
# bf16 dense peak by card name (vendor figures), for MFU on CUDA; other cards: the measured matmul rate.
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}


@contextlib.contextmanager
def levers(on: dict[str, bool], device: str) -> Iterator[None]:
    """Switch speed-path levers off for one run (by patching the trainer's helpers), then restore them."""
    from training import backend, finetune, speed

    saved = (speed.BUCKET_BATCHES, backend.accepts, backend.Backend.reuses_image_features,
             finetune.needs_checkpointing)
    real_accepts = backend.accepts
    if not on["buckets"]:
        speed.BUCKET_BATCHES = 1  # sorted within a batch only: the random batches of before
    if not on["caption_logits"]:
        backend.accepts = lambda model, name: name != "logits_to_keep" and real_accepts(model, name)
    if not on["features_once"]:
        backend.Backend.reuses_image_features = property(lambda self: False)
    if not on["checkpoint_by_budget"] and device.startswith("cuda"):
        finetune.needs_checkpointing = lambda *args: True  # before: always on CUDA
    try:
        yield
    finally:
        (speed.BUCKET_BATCHES, backend.accepts, backend.Backend.reuses_image_features,
         finetune.needs_checkpointing) = saved


def peak_flops(device: str) -> tuple[float, str]:
    """The card's bf16 peak (by name), else the matrix-multiply rate measured here (fp32 on a CPU)."""
    import torch

    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(0)
        for key, value in BF16_PEAK.items():
            if key in name:
                return value, f"{name} bf16 peak {value / 1e12:.0f} TFLOP/s"
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    b = torch.randn(2048, 2048, device=device, dtype=dtype)
    a @ b
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < 3.0:
        a @ b
        runs += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    rate = runs * 2 * 2048**3 / (time.perf_counter() - started)
    return rate, f"measured {str(dtype).removeprefix('torch.')} matmul rate here, {rate / 1e9:,.0f} GFLOP/s"


def measure(kind: str, folder: Path, n: int, device: str, image: Path | None, batch: int = 8,
            variant: str = "after (all)", peak: float = 0.0) -> dict[str, Any]:
    """Train one epoch over n captions with the product's trainer; per-step times after a warm-up step."""
    import torch

    from bot.config import Config
    from bot.runtime.ml import Runtime
    from training.backend import Backend
    from training.finetune import train

    runtime = Runtime(device, "auto")
    backend = Backend(kind, str(folder), runtime)
    backend.load()
    config = Config(pets=PETS)
    config.retrain.epochs = 1
    config.retrain.batch_size = batch
    data = samples(backend, n, image)
    encoded = [backend.encode(s) for s in data[:16]]
    tokens = sum(int(e["input_ids"].shape[1]) for e in encoded) / len(encoded)
    chars = sum(len(s.prompt) + len(s.target) for s in data[:16]) / len(data[:16])
    target = sum(int((e["labels"] != -100).sum()) for e in encoded) / len(encoded)
    stamps: list[float] = []

    def tick(phase: str, done: int, total: int, loss: float | None) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        shown = f"{loss:.3f}" if loss is not None else "-"
        print(f"  {kind} step {done}/{total} loss {shown} at {stamps[-1] - started:.1f} s", flush=True)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    with levers(VARIANTS[variant], device):
        report = train(backend, data, config, progress=tick)
    steps = [b - a for a, b in itertools.pairwise(stamps)]  # the first step warms up, not counted
    per_step = sum(steps) / len(steps) if steps else (stamps[0] - started)
    epoch_steps = math.ceil(EPOCH_CAPTIONS / batch)
    params = sum(p.numel() for p in backend.model.parameters())
    tokens_per_step = report.tokens / max(1, report.steps)
    result = {
        "variant": variant, "padded_share": 1 - report.tokens / max(1, report.padded_tokens),
        "tokens_per_second": tokens_per_step / per_step, "checkpointing": report.checkpointing,
        "attention": report.attention, "image_features": report.image_features,
        "mfu": 6 * params * tokens_per_step / per_step / peak if peak else None,
        "kind": kind, "device": device, "dtype": report.dtype, "captions": n, "steps": report.steps,
        "timed_steps": len(steps), "batch": batch, "seconds_per_step": per_step,
        "seconds_per_epoch": per_step * epoch_steps, "epoch_steps": epoch_steps,
        "measured_seconds": report.seconds, "tokens_per_example": tokens, "caption_tokens": target,
        "chars_per_example": chars,
        "trainable_params": report.trainable_params,
        "params": params,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
        "extrapolated": n < EPOCH_CAPTIONS,
    }
    backend.unload()
    return result


def photo(folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    path = folder / "photo.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (768, 1024, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def row(r: dict[str, Any]) -> str:
    how = (f"extrapolated from {r['timed_steps']} timed steps ({r['captions']} captions, 1 warm-up step not counted)"
           if r["extrapolated"] else f"measured over the full epoch ({r['steps']} steps)")
    peak = f"{r['peak_gpu_mib']:.0f} MiB" if r["peak_gpu_mib"] is not None else "n/a (CPU)"
    params = f"{r['params'] / 1e6:.0f} M / {r['trainable_params'] / 1e6:.2f} M"
    mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] is not None else "n/a"
    notes = ", ".join(x for x in (r["attention"], "checkpointing" if r["checkpointing"] else "",
                                  f"image features {r['image_features']}" if r["image_features"] else "") if x)
    return (f"| {r['kind']} | {r['variant']} | {r['device']} | {r['dtype']} | {r['batch']} | {params} "
            f"| {r['tokens_per_example']:.0f} ({r['caption_tokens']:.0f}) | {100 * r['padded_share']:.0f} % "
            f"| {r['seconds_per_step']:.2f} s | **{r['seconds_per_epoch']:,.0f} s** ({r['seconds_per_epoch'] / 60:.1f} "
            f"min) | {r['tokens_per_second']:,.0f} | {mfu} | {notes} | {how} | {peak} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-captions", type=int, default=64, help="captions timed on the CPU (then extrapolated)")
    parser.add_argument("--gpu-captions", type=int, default=EPOCH_CAPTIONS, help="writer captions timed on CUDA")
    parser.add_argument("--vlm-captions", type=int, default=64, help="VLM captions timed on CUDA (then extrapolated)")
    parser.add_argument("--cpu-batch", type=int, default=8, help="batch size on the CPU (4 halves the ~14 GB "
                        "the 360M writer's activations take at 8)")
    parser.add_argument("--smoke", action="store_true", help="tiny models, every path (also the VLM) on this device")
    parser.add_argument("--variants", choices=["all", "after"], default="all",
                        help="all: attribute each speed-up (one run per lever); after: the product's path only")
    parser.add_argument("--no-record", action="store_true", help="print only; do not update RESULTS.md")
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    results = []
    names = list(VARIANTS) if args.variants == "all" else ["after (all)"]
    text_names = [v for v in names if v != "+ image features once"]  # a writer has no images
    if len(text_names) > 1:  # on a CPU "after (all)" is "+ caption-only logits" for a writer (no images, no CUDA)
        text_names.remove("after (all)")
    cpu_peak, cpu_peak_text = peak_flops("cpu")
    peaks = [f"CPU: {cpu_peak_text}"]
    with tempfile.TemporaryDirectory(prefix="pawpost-bench-retrain-") as tmp:
        root = Path(tmp)
        writer = build_writer(root / "writer", args.smoke)
        print(f"writer built: {writer}", flush=True)
        for variant in text_names:
            results.append(measure("writer", writer, args.cpu_captions, "cpu", None, args.cpu_batch, variant,
                                   cpu_peak))
        if cuda:
            gpu_peak, gpu_text = peak_flops("cuda")
            peaks.append(f"GPU: {gpu_text}")
            for variant in (names[0], names[-1]):
                results.append(measure("writer", writer, args.gpu_captions, "cuda", None, 8, variant, gpu_peak))
        if cuda or args.smoke:
            vlm = build_vlm(root / "vlm", args.smoke)
            device = "cuda" if cuda else "cpu"
            peak = gpu_peak if cuda else cpu_peak
            for variant in ((names[0], names[-1]) if cuda else names):
                results.append(measure("vlm", vlm, args.vlm_captions, device, photo(root), 8, variant, peak))
    lines = [
        "LoRA fine-tuning (rank 8, AdamW, loss on the caption tokens; batch size in the table) through "
        "`training.finetune.train`; "
        f"seconds per epoch of {EPOCH_CAPTIONS:,} captions. Full-size architectures, random weights: "
        "writer = SmolLM2-360M-Instruct shape" + (", VLM = SmolVLM2-2.2B-Instruct shape (Idefics3)." if cuda else "."),
        "",
        "| model | variant | device | dtype | batch | params / trainable | tokens per example (caption) | padding "
        "| per step | per epoch | tokens/s | MFU | attention etc. | how | peak GPU memory |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(row(r) for r in results),
        "",
        "MFU against " + "; ".join(peaks) + ". Each variant switches one more lever of the speed path on "
        "(benchmarks.retrain.VARIANTS); the step-time ratio between consecutive rows is that lever's speed-up.",
        "",
    ]
    if not cuda:
        lines.append("GPU (bf16) for the writer and the default VLM, their MFU and peak GPU memory: not measured, no "
                     "GPU was lent to this run; `python -m benchmarks.retrain` measures them where CUDA is present. "
                     "The GPU baseline is the recorded H200 measurement (writer 3.9 min, VLM 34 min per epoch); "
                     "benchmarks/gpu_fit.py estimates the new path's GPU minutes from it.")
    cpu = results[-1] if results[-1]["kind"] == "writer" else [r for r in results if r["kind"] == "writer"][-1]
    from bot.config import RetrainConfig
    from training.finetune import TRAIN_SHARE

    budget = RetrainConfig().time_budget_minutes
    lines.append(f"CPU time budget: with the default `[retrain] time_budget_minutes = {budget:.0f}` training gets "
                 f"{TRAIN_SHARE:.0%} of it, {budget * TRAIN_SHARE:.0f} min, which at the writer's measured step time "
                 f"covers {budget * TRAIN_SHARE * 60 / cpu['seconds_per_epoch']:.2f} of an epoch of 3,000 captions "
                 "here (a retrain then evaluates what it trained and promotes it only if better).")
    lines.append(f"Against the seed reference (GPT-2, ~3,000 captions in under 5 minutes on an 11 GB GPU): one CPU "
                 f"epoch here is {cpu['seconds_per_epoch'] / 300:,.0f}x those 5 minutes. A CPU retrain is an "
                 "overnight-to-weekend job, which the weekly timer allows; the like-for-like comparison with the "
                 "seed's GPU figure is the CUDA row, where one is measured. Load average during the CPU run: "
                 f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs shared the machine).")
    chars = results[0]["chars_per_example"]
    lines.append(f"Tokens come from a small byte-level BPE trained on the prompt templates (the real SmolLM2 "
                 f"tokenizer is not downloaded): an example is {chars:.0f} characters of text, about "
                 f"{chars / 4:.0f} tokens at the usual ~4 characters per token of a 49k-vocabulary tokenizer, so the "
                 "sequences timed here are, if anything, longer than the real ones. Seed reference: "
                 "GPT-2 (124 M, all weights trained) on about 3,000 captions in under 5 minutes on an 11 GB GPU.")
    for line in lines:
        print(line)
    if not args.no_record and not args.smoke:
        record("Retraining speed path and MFU (benchmarks/retrain.py)", lines)


if __name__ == "__main__":
    main()
