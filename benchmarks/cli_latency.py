"""`pawpost drafts list --json` on 10,000 drafts, against importing torch and transformers.

Run: python -m benchmarks.cli_latency [--drafts N] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import command_seconds, record

NOW = "2026-11-22T10:00:00+00:00"


def build(home: Path, n: int) -> Path:
    from bot.store.database import Store

    (home / "inbox").mkdir(parents=True)
    config = home / "pawpost.toml"
    config.write_text('[paths]\ninbox = "inbox"\ndata = "data"\n[[pets]]\nname = "Lola"\n[[pets]]\nname = "Pico"\n')
    store = Store(home / "data" / "pawpost.db")
    states = ["pending", "approved", "posted", "rejected"]
    with store.tx() as db:
        db.execute("INSERT INTO pets (id, name, species, created_at) VALUES (1, 'Lola', 'dog', ?), "
                   "(2, 'Pico', 'dog', ?)", (NOW, NOW))
        for i in range(1, n + 1):
            db.execute("INSERT INTO photos (id, sha256, status, source_name, path, created_at, updated_at) "
                       "VALUES (?, ?, 'drafted', ?, ?, ?, ?)",
                       (i, f"{i:064x}", f"IMG_{i}.jpg", f"library/2026/11/{i:064x}.jpg", NOW, NOW))
            db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, source) VALUES (?, ?, 0.9, 'model')",
                       (i, 1 + i % 2))
            caption = f"Caption number {i}: Lola found the sunniest spot again ☀️ #chihuahua #rescuedog"
            db.execute("INSERT INTO drafts (id, status, caption, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?)", (i, states[i % 4], caption, NOW, NOW))
            db.execute("INSERT INTO draft_media (draft_id, position, photo_id) VALUES (?, 0, ?)", (i, i))
            for pos in range(4):
                db.execute("INSERT INTO candidates (draft_id, position, text, score) VALUES (?, ?, ?, ?)",
                           (i, pos, f"{caption} (take {pos})", 1 - pos / 10))
    store.close()
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = build(Path(tmp), args.drafts)
        cli = command_seconds([sys.executable, "-m", "bot", "--config", str(config), "drafts", "list", "--json"],
                              runs=args.runs)
        heavy = command_seconds([sys.executable, "-c", "import torch, transformers"], runs=args.runs)
    ratio = cli / heavy
    print(f"drafts list --json ({args.drafts} drafts): {cli * 1000:.0f} ms median")
    print(f"import torch, transformers:            {heavy * 1000:.0f} ms median")
    print(f"ratio: {ratio:.2f} (goal: <= 0.25, and well under a second)")
    record("CLI latency (benchmarks/cli_latency.py)", [
        f"| what | median of {args.runs} |",
        "| --- | --- |",
        f"| `pawpost drafts list --json`, {args.drafts:,} drafts x 4 candidates | {cli * 1000:.0f} ms |",
        f"| `python -c 'import torch, transformers'` | {heavy * 1000:.0f} ms |",
        f"| ratio (goal <= 0.25) | **{ratio:.2f}** |",
    ])


if __name__ == "__main__":
    main()
