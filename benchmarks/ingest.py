"""Ingest of 300 twelve-megapixel JPEGs, against merely decoding the same files with Pillow (goal: under 1.5x).

Run: python -m benchmarks.ingest [--count N] [--cache DIR] [--no-record]
The photos are generated once into --cache (reused by later runs); ingest works on hard links to them. Decode and
ingest are timed photo by photo, alternately, so load from other processes weighs on both sides alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import record

WIDTH, HEIGHT = 4000, 3000
_BASE: np.ndarray | None = None


def _base() -> np.ndarray:
    # Sensor-like grain shared by every photo; each photo adds its own low-frequency scene (what the hash sees).
    global _BASE
    if _BASE is None:
        rng = np.random.default_rng(0)
        _BASE = rng.normal(0, 9, (HEIGHT, WIDTH, 3)).astype(np.int16)
    return _BASE


def _make(args: tuple[int, str]) -> None:
    from PIL import Image

    seed, path = args
    rng = np.random.default_rng(seed)
    scene = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT),
                                                                                      Image.Resampling.BICUBIC)
    pixels = np.clip(np.asarray(scene, dtype=np.int16) + _base(), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = f"2026:0{1 + seed % 9}:1{seed % 10} 1{seed % 10}:30:00"
    tmp = path + ".tmp"
    Image.fromarray(pixels).save(tmp, "JPEG", quality=90, exif=exif.tobytes())
    os.replace(tmp, path)


def generate(folder: Path, count: int) -> list[Path]:
    """`count` distinct 12 MP JPEGs in `folder` (kept between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(count)]
    todo = [(i, str(p)) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        print(f"generating {len(todo)} photos of {WIDTH}x{HEIGHT} in {folder} (once) ...", flush=True)
        _base()  # built before forking, so every worker shares it
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
            for n, _ in enumerate(pool.imap_unordered(_make, todo, chunksize=4), 1):
                if n % 50 == 0:
                    print(f"  {n}/{len(todo)}", flush=True)
    return paths


def decode(path: Path) -> float:
    from PIL import Image

    start = time.perf_counter()
    with Image.open(path) as im:
        im.load()
    return time.perf_counter() - start


def measure(paths: list[Path], workdir: Path) -> tuple[float, float]:
    """Seconds to decode, and to ingest, every photo; interleaved photo by photo so a busy machine hurts both alike."""
    from bot.config import load_config
    from bot.ingest.intake import ingest_file
    from bot.store.database import Store

    home = Path(tempfile.mkdtemp(prefix="ingest-", dir=workdir))
    inbox = home / "inbox"
    inbox.mkdir()
    (home / "pawpost.toml").write_text('[paths]\ninbox = "inbox"\ndata = "data"\n[ingest]\nstable_seconds = 0\n')
    config = load_config(home / "pawpost.toml")
    store = Store.for_config(config)
    decoding = ingesting = 0.0
    try:
        # One small photo first: one-time imports (scipy for the hash) are start-up cost, not per-photo cost.
        warm = inbox / "warm-up.png"
        from PIL import Image

        Image.new("RGB", (64, 48), "white").save(warm)
        ingest_file(store, config, warm)
        for path in paths:
            link = inbox / path.name
            try:
                os.link(path, link)
            except OSError:
                shutil.copyfile(path, link)
            decoding += decode(path)
            start = time.perf_counter()
            result = ingest_file(store, config, link)
            ingesting += time.perf_counter() - start
            if result.status != "new":
                raise SystemExit(f"{path.name} was not accepted: {result}")
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)
    return decoding, ingesting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="photos (default 300)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "pawpost-bench-12mp",
                        help="where the generated photos are kept between runs")
    parser.add_argument("--no-record", action="store_true", help="do not write benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    paths = generate(args.cache, args.count)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    for path in paths:  # the page cache warm for both sides
        path.read_bytes()
    decoding, ingesting = measure(paths, args.cache.parent)
    ratio = ingesting / decoding
    per = 1000 / len(paths)
    lines = [
        f"| what | {len(paths)} JPEGs of {WIDTH}x{HEIGHT}, {megabytes / len(paths):.1f} MB each |",
        "| --- | --- |",
        f"| Pillow `open` + `load` (a full decode) | {decoding:.1f} s ({decoding * per:.0f} ms/photo) |",
        f"| `ingest_file` (read, sha256, full decode, EXIF, phash, duplicate check, fsync'd library copy, "
        f"commit, unlink) | {ingesting:.1f} s ({ingesting * per:.0f} ms/photo) |",
        f"| ratio ingest / decode (goal < 1.5) | **{ratio:.2f}** |",
    ]
    print("\n".join(lines))
    if not args.no_record:
        record("Ingest (benchmarks/ingest.py)", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
