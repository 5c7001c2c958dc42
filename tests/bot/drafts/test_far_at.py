"""An --at time far ahead (past the 50 slots the schedule usually looks at) is kept, not moved for a false reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.publish.conftest import make_draft
from tests.conftest import run_cli

NOW = "2026-11-22T10:00:00+00:00"


def test_at_more_than_50_slots_ahead_goes_out_at_that_time(home: Path, store) -> None:
    draft_id = make_draft(store, "Blanket day #chihuahua", status="pending")
    env = {"PAWPOST_FAKE_NOW": NOW}

    # Two slots a day: 40 days ahead is about 80 slots away, on a day with no other post.
    result = run_cli("drafts", "approve", str(draft_id), "--at", "2027-01-01 12:00", config=home / "pawpost.toml",
                     env=env)

    assert result.returncode == 0, result.stderr
    assert "at 2027-01-01 12:00" in result.stdout, result.stdout
    assert "not at the time asked for" not in result.stdout and "max_posts_per_day" not in result.stdout
    shown = json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=home / "pawpost.toml",
                               env=env).stdout)
    assert shown["goes_out_at"] == "2027-01-01T12:00:00+00:00"
