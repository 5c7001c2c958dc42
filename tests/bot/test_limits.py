"""Instagram's caption limits (bot/limits.py): the hard limits every caption is checked against."""

from __future__ import annotations

import subprocess
import sys

from bot.limits import instagram_limits
from tests.conftest import REPO


def test_instagram_limits_still_check_owner_text() -> None:
    assert instagram_limits("hi", 5) is None
    assert "6 hashtags" in instagram_limits("hi #a #b #c #d #e #f", 5)


def test_the_limits_stand_alone() -> None:
    # Drafts, review, posting and the caption rules all build on these limits: they must not need the captions.
    code = "import sys, bot.limits; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['bot.limits']"
