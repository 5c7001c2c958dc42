"""Caption throughput: candidates per second when 8 photos x 4 candidates go through one batched call, against
the per-photo, per-candidate loop of the seed notebooks, on the same model and the same number of new tokens.

Full-size architectures with random weights (speed does not depend on the weights), built from their configs and
loaded by the product's own backends: BLIP-base (describer) + a SmolLM2-135M-shaped chat LM (writer), and a
SmolVLM-256M-shaped Idefics3 chat VLM (SigLIP-base vision at 512 px, pixel-shuffle 4, SmolLM2-135M text).
Every sequence generates exactly --tokens new tokens (min_new_tokens = max_new_tokens), so the paths do the same
work. "batched" is the product's call (each prompt encoded once, its cache shared by its candidates); "batched,
no shared prefill" is one generate call with num_return_sequences; "loop" is one generate call per candidate.
On CUDA it runs in bf16 and also prints the peak GPU memory of each path.

Run: python -m benchmarks.captions [--photos 8] [--candidates 4] [--tokens 16] [--vlm-photos 2]
     [--describer-photos 4] [--all-paths] [--skip-vlm] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import record

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SMOLLM2_135M = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                "num_key_value_heads": 3, "max_position_embeddings": 8192, "rope_theta": 100000.0,
                "vocab_size": 49152}
SIGLIP_B16_512 = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "image_size": 512, "patch_size": 16}


def build_writer(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.tiny_captions import chat_lm_tokenizer

    tokenizer = chat_lm_tokenizer()
    config = LlamaConfig(**SMOLLM2_135M, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_blip(folder: Path) -> Path:
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    config = BlipConfig()  # the defaults are BLIP-base: ViT-B/16 at 384 px, BERT-base text decoder
    size = config.text_config.vocab_size
    vocab = [f"w{i}" for i in range(size)]
    for i, token in {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", size - 2: "[DEC]",
                     size - 1: "[ENC]"}.items():
        vocab[i] = token
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"))
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 384, "width": 384}),
                              tokenizer=tokenizer)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_vlm(folder: Path) -> Path:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    from tests.tiny_captions import VLM_CHAT_TEMPLATE, vlm_tokenizer

    tokenizer = vlm_tokenizer()
    # One 512 px image per photo (no splitting into tiles): 64 image tokens after the pixel shuffle.
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 512},
                                                max_image_size={"longest_edge": 512})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=64,
                                  chat_template=VLM_CHAT_TEMPLATE)
    text = {"model_type": "llama", **SMOLLM2_135M, "vocab_size": 49280, "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = Idefics3Config(vision_config=SIGLIP_B16_512, text_config=text, scale_factor=4,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def photos(n: int) -> list[Any]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(n)]


def prompts(n: int, descriptions: list[str] | None = None) -> list[Any]:
    from bot.captions.prompt import build_prompt
    from bot.config import Config

    config = Config(pets=[{"name": "Lola", "species": "dog", "description": "a tiny fawn chihuahua, rescued in 2021",
                           "personality": "sassy, loves blankets, hates rain"}],
                    captions={"voice": "playful, first person as the dog, one or two emojis"})
    examples = ["Blanket burrito mode: activated 🌯🐶", "Rain? No thank you. Back to bed.",
                "Sunday zoomies in the park with my favourite human"]
    return [build_prompt(config, ["Lola"], scene=(descriptions or [None] * n)[i] or "a small dog on a sofa",
                         examples=examples, hint=f"photo {i}") for i in range(n)]


def timed(fn: Any, device: str) -> tuple[float, float | None]:
    """Seconds, and peak GPU MiB on CUDA."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter() - start, torch.cuda.max_memory_allocated() / 2**20
    return time.perf_counter() - start, None


def compare(name: str, model: Any, tokenizer: Any, make_inputs: Any, n_photos: int, settings: Any,
            device: str, all_paths: bool) -> list[dict[str, Any]]:
    """The three paths on one model; checks every path generated exactly the same number of tokens."""
    from bot.captions.generate import sample

    n = settings.candidates
    counts: dict[str, int] = {}

    def batched(shared: bool) -> None:
        new = sample(model, make_inputs(list(range(n_photos))), settings, 1, tokenizer=tokenizer,
                     num_return_sequences=n, share_prefill=shared)
        counts["batched" if shared else "plain"] = new.shape[0] * new.shape[1]

    def loop() -> None:
        total = 0
        for photo in range(n_photos):
            for candidate in range(n):
                new = sample(model, make_inputs([photo]), settings, 1 + candidate, tokenizer=tokenizer,
                             num_return_sequences=1, share_prefill=False)
                total += new.shape[0] * new.shape[1]
        counts["loop"] = total

    # Warm-up: lazy initialisation and first-call allocations are not what is being compared.
    sample(model, make_inputs([0]), type(settings)(candidates=1, max_new_tokens=2, min_new_tokens=2), 0,
           tokenizer=tokenizer, num_return_sequences=1)
    rows = []
    paths = [("batched (product)", lambda: batched(True)), ("loop", loop)]
    if all_paths:
        paths.insert(1, ("batched, no shared prefill", lambda: batched(False)))
    for label, fn in paths:
        seconds, peak = timed(fn, device)
        rows.append({"model": name, "path": label, "seconds": seconds, "peak_mib": peak})
        print(f"{name:28} {label:28} {seconds:7.1f} s  {n_photos * n / seconds:6.2f} candidates/s"
              + (f"  peak {peak:.0f} MiB" if peak is not None else ""), flush=True)
    expected = n_photos * n * settings.max_new_tokens
    assert set(counts.values()) == {expected}, f"paths generated different token counts: {counts}"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=16, help="new tokens per candidate (fixed)")
    parser.add_argument("--vlm-photos", type=int, default=2, help="photos for the VLM (its loop is the slowest)")
    parser.add_argument("--describer-photos", type=int, default=4)
    parser.add_argument("--all-paths", action="store_true", help="also time one generate call without the shared "
                        "prefill (num_return_sequences)")
    parser.add_argument("--skip-vlm", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    from bot.captions.backends import ChatVLM, Describer, Writer
    from bot.captions.generate import GenerationSettings, to_device
    from bot.runtime.ml import Runtime

    hf_logging.disable_progress_bar()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = "bfloat16" if device == "cuda" else "float32"
    runtime = Runtime(device, dtype)
    settings = GenerationSettings(candidates=args.candidates, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    images = photos(max(args.photos, args.vlm_photos, args.describer_photos))
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"building models on {device} ({dtype}), {os.cpu_count()} cores...", flush=True)
        describer = Describer(str(build_blip(root / "blip")), runtime)
        writer = Writer(str(build_writer(root / "writer")), runtime)
        describer.load()
        writer.load()
        describer.describe(images[:1])  # warm-up
        some = images[:args.describer_photos]
        one_by_one, peak_single = timed(lambda: [describer.describe([im]) for im in some], device)
        batch_time, peak_batch = timed(lambda: describer.describe(some), device)
        describe_rows = [("per photo", one_by_one, peak_single), ("one batch", batch_time, peak_batch)]
        print(f"{'BLIP-base describer':28} per photo {one_by_one:.1f} s, one batch {batch_time:.1f} s", flush=True)
        texts = writer.prompt_texts(prompts(args.photos))

        def writer_inputs(idx: list[int]) -> dict[str, Any]:
            enc = writer.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                   add_special_tokens=False)
            return to_device(enc, device, writer.model.dtype)

        rows += compare("SmolLM2-135M writer", writer.model, writer.tokenizer, writer_inputs, args.photos,
                        settings, device, args.all_paths)
        prompt_tokens = writer_inputs([0])["input_ids"].shape[1]
        writer.unload()
        describer.unload()
        if not args.skip_vlm:
            vlm = ChatVLM(str(build_vlm(root / "vlm")), runtime)
            vlm.load()
            vtexts = vlm.prompt_texts(prompts(args.vlm_photos))

            def vlm_inputs(idx: list[int]) -> dict[str, Any]:
                enc = vlm.processor(text=[vtexts[i] for i in idx], images=[[images[i]] for i in idx],
                                    return_tensors="pt", padding=True)
                return to_device(enc, device, vlm.model.dtype)

            rows += compare("SmolVLM-256M-size (Idefics3)", vlm.model, vlm.processor.tokenizer, vlm_inputs,
                            args.vlm_photos, settings, device, args.all_paths)
            vlm.unload()
    total = time.perf_counter() - started
    print(f"total {total:.0f} s")
    if not args.no_record:
        record("Captions (benchmarks/captions.py)", results_lines(rows, describe_rows, args, device, dtype,
                                                                  prompt_tokens, total))
    return 0


def results_lines(rows: list[dict[str, Any]], describe_rows: list[tuple[str, float, float | None]],
                  args: argparse.Namespace, device: str, dtype: str, prompt_tokens: int, total: float) -> list[str]:
    load = os.getloadavg()[0]
    lines = [
        f"Random-weight full-size models on {device} ({dtype}); every candidate generates exactly {args.tokens} new "
        f"tokens (min_new_tokens = max_new_tokens); writer prompts of {prompt_tokens} tokens (the product's prompt "
        f"with pets, scene, hint and 3 style examples). Writer: {args.photos} photos x {args.candidates} candidates; "
        f"VLM: {args.vlm_photos} photos x {args.candidates} candidates (fewer photos: its per-candidate loop "
        f"re-encodes the 512 px image every time). Load average at the end: {load:.1f} (a shared machine). "
        f"Total run {total:.0f} s.",
        "",
        "| model | path | seconds | candidates/s | vs loop | peak GPU MiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        loop = next(r for r in mine if r["path"] == "loop")
        n = (args.vlm_photos if "VLM" in model else args.photos) * args.candidates
        for r in mine:
            peak = f"{r['peak_mib']:.0f}" if r["peak_mib"] is not None else "not measured (no GPU)"
            ratio = loop["seconds"] / r["seconds"]
            shown = f"**{ratio:.2f}x**" if r["path"].startswith("batched (product)") else f"{ratio:.2f}x"
            lines.append(f"| {model} | {r['path']} | {r['seconds']:.1f} | {n / r['seconds']:.2f} | {shown} | {peak} |")
    per_photo, batch = describe_rows[0][1], describe_rows[1][1]
    lines += ["", f"BLIP-base describer, {args.describer_photos} photos: one at a time {per_photo:.1f} s, one batch "
              f"{batch:.1f} s ({per_photo / batch:.2f}x).", ""]
    if device == "cpu":
        lines.append("bf16 figures and peak GPU memory: not measured, no GPU was available; the script measures "
                     "them (bf16, torch.cuda.max_memory_allocated per path) where CUDA is present.")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
