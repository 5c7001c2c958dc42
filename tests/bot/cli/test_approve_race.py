"""Two or three `drafts approve --at` for one time, run at once as real processes: exactly one gets the time, the
others are refused as the README says (the check and the write are one transaction)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bot import timeutil
from bot.config import load_config
from bot.drafts.media import add_draft
from bot.store.database import Store
from tests.conftest import REPO, write_config
from tests.rows import make_photo

RACERS = 3
ROUNDS = 4


def _waiting(pid: int) -> bool:
    """Whether the process sleeps in SQLite's busy handler (waiting for the write lock the test holds)."""
    try:
        return "nanosleep" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def _start(cfg: Path, draft_id: int, at: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    return subprocess.Popen([sys.executable, "-m", "bot", "--config", str(cfg), "drafts", "approve", str(draft_id),
                             "--at", at], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_parallel_approvals_for_one_time_give_it_to_one_draft(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "home", {"schedule": {"timezone": "UTC", "max_posts_per_day": 25}}, pets=[])
    config = load_config(cfg)
    with Store.for_config(config) as store:
        drafts = []
        for i in range(RACERS * ROUNDS):
            photo = make_photo(store, f"p{i}", i + 1)
            drafts.append(add_draft(store, [photo], status="pending", caption=f"take {i}",
                                    created_at=timeutil.iso(timeutil.now()), updated_at=timeutil.iso(timeutil.now())))
    day = timeutil.now() + timedelta(days=3)

    for round_ in range(ROUNDS):
        at = f"{day + timedelta(days=round_):%Y-%m-%d} 12:{round_:02d}"
        racers = drafts[round_ * RACERS:(round_ + 1) * RACERS]
        # The test holds the write lock while the racers start, so all of them reach the approval together: the
        # lock is given back only once each is waiting for it (or after a generous bound on a slow machine).
        holder = sqlite3.connect(config.paths.database, isolation_level=None, timeout=60)
        holder.execute("BEGIN IMMEDIATE")
        procs = [_start(cfg, draft_id, at) for draft_id in racers]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(_waiting(p.pid) or p.poll() is not None for p in procs):
            time.sleep(0.05)
        holder.execute("ROLLBACK")
        holder.close()
        results = [(p.wait(120), *p.communicate()) for p in procs]

        won = [draft for draft, (rc, _out, _err) in zip(racers, results, strict=True) if rc == 0]
        assert len(won) == 1, (at, results)
        for draft, (rc, _out, err) in zip(racers, results, strict=True):
            if draft != won[0]:
                assert rc == 1 and err.splitlines() == [
                    f"pawpost: error: draft {won[0]} is already approved for {at} (UTC), and one time posts one "
                    "draft; pick another --at time, or leave --at out for the next free slot"], err
        with Store.for_config(config) as store:
            rows = store.all("SELECT id, status FROM drafts WHERE scheduled_for = ?",
                             (timeutil.iso(timeutil.parse(f"{at.replace(' ', 'T')}:00+00:00")),))
            assert [tuple(r) for r in rows] == [(won[0], "approved")]
            assert {store.draft(d)["status"] for d in racers if d != won[0]} == {"pending"}
