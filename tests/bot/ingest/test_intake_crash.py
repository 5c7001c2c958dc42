"""`pawpost ingest` killed with SIGKILL at random moments: after a restart every photo is in the inbox or the
library, recorded exactly once."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.config import Config
from tests.bot.photofiles import make_config, photo
from tests.conftest import REPO, run_cli


def inbox_count(cfg: Config) -> int:
    return sum(1 for p in cfg.paths.inbox.iterdir() if p.is_file())


def check_nothing_lost_or_doubled(cfg: Config, good: dict[str, bytes], bad: dict[str, bytes]) -> None:
    if not cfg.paths.database.exists():
        rows = []
    else:
        with sqlite3.connect(cfg.paths.database) as db:
            rows = db.execute("SELECT source_name, status, path FROM photos").fetchall()
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), "a file was recorded twice"
    recorded = {r[0]: r for r in rows}
    for name, data in {**good, **bad}.items():
        in_inbox = cfg.paths.inbox / name
        if in_inbox.exists():
            assert in_inbox.read_bytes() == data, f"{name} was changed in the inbox"
            continue
        assert name in recorded, f"{name} left the inbox without being recorded"
        _, status, path = recorded[name]
        kept = cfg.paths.data / path
        assert kept.read_bytes() == data, f"{name} is not intact in {path}"
        assert status == ("quarantined" if name in bad else "new" if name != "IMG_copy.jpg" else "duplicate")
    for name, status, path in rows:
        if status != "quarantined":  # a committed accepted row always has its library file
            assert (cfg.paths.data / path).is_file(), f"{name} is recorded but {path} is missing"


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "home", stable_seconds=0.0)
    good = {f"IMG_{i:03d}.jpg": photo(3000 + i, size=(480, 360)) for i in range(120)}
    good["IMG_copy.jpg"] = good["IMG_000.jpg"]
    bad = {f"broken_{i}.jpg": photo(4000 + i)[:600] for i in range(5)}
    for name, data in {**good, **bad}.items():
        (cfg.paths.inbox / name).write_bytes(data)

    rng = random.Random(20261122)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    argv = [sys.executable, "-m", "bot", "--config", str(cfg.source), "ingest", "--no-process"]
    kills = 0
    for round_no in range(8):
        before = inbox_count(cfg)
        if before < 20:
            break
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if round_no % 3 == 2:
            time.sleep(rng.uniform(0.05, 0.4))  # during start-up or the first file
        else:
            # Once it is visibly at work, kill it a random moment later: inside one file's ingest, or a few
            # files further on. Timed from progress, not from launch, so a fast machine cannot finish first.
            deadline = time.monotonic() + 60
            while inbox_count(cfg) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03) if round_no % 3 == 0 else rng.uniform(0.03, 0.1))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
        check_nothing_lost_or_doubled(cfg, good, bad)

    assert kills >= 3
    assert 0 < inbox_count(cfg) < len(good) + len(bad)  # it was killed part-way, with work left over

    result = run_cli("ingest", "--no-process", "--json", config=cfg.source)
    assert result.returncode == 0, result.stderr
    check_nothing_lost_or_doubled(cfg, good, bad)
    assert inbox_count(cfg) == 0
    with sqlite3.connect(cfg.paths.database) as db:
        assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == len(good) + len(bad)
        statuses = dict(db.execute("SELECT status, count(*) FROM photos GROUP BY status").fetchall())
    assert statuses == {"new": len(good) - 1, "duplicate": 1, "quarantined": len(bad)}
