"""Instagram's limits (bot/limits.py): the one table every module reads, and the one caption check."""

from __future__ import annotations

import re
import subprocess
import sys

from bot import limits
from bot.limits import MAX_HASHTAGS, caption_problem
from tests.conftest import REPO


def test_the_caption_check_uses_the_configured_cap_or_instagrams() -> None:
    assert caption_problem("hi", 5) is None
    assert "6 hashtags; at most 5 are allowed (captions.max_hashtags" in caption_problem("hi #a #b #c #d #e #f", 5)
    assert "3 hashtags; at most 2 are allowed" in caption_problem("hi #a #b #c", 2)
    # Without a configured cap (the poster): Instagram's own limit, worded as Instagram's.
    tags = " ".join(f"#t{i}" for i in range(MAX_HASHTAGS + 1))
    assert caption_problem(f"hi {tags}") == f"the caption has {MAX_HASHTAGS + 1} hashtags; Instagram allows at most 5"
    assert caption_problem("hi #a #b") is None
    assert "control character (U+0007, line 2)" in caption_problem("hi\nthere\x07")


def test_every_limit_names_its_source() -> None:
    # Each figure of the table is followed by the source it comes from, one of the sources named in the module.
    text = (REPO / "bot" / "limits.py").read_text()
    figures = re.findall(r"^(MAX_\w+|MIN_\w+) = [^#\n]*#?\s*(\w*)", text, flags=re.M)
    assert {name for name, _ in figures} >= {"MAX_CAPTION_CHARS", "MAX_MENTIONS", "MAX_HASHTAGS",
                                              "MAX_CAROUSEL_ITEMS", "MIN_RATIO", "MAX_RATIO", "MAX_WIDTH", "MAX_BYTES"}
    for name, source in figures:
        assert source in ("GRAPH_MEDIA", "CONTENT_PUBLISHING", "HASHTAG_ANNOUNCEMENT"), name
        assert "https://" in getattr(limits, source) or "help.instagram.com" in getattr(limits, source)


def test_no_other_module_writes_instagrams_figures() -> None:
    # The poster's hashtag check, the config's ceiling and the photo preparation read the table, never a number.
    from bot.config import CaptionsConfig
    from bot.publish import prepare

    assert CaptionsConfig.model_fields["max_hashtags"].metadata[-1].le == MAX_HASHTAGS
    assert (prepare.MIN_RATIO, prepare.MAX_RATIO, prepare.MAX_WIDTH, prepare.MAX_BYTES) == (
        limits.MIN_RATIO, limits.MAX_RATIO, limits.MAX_WIDTH, limits.MAX_BYTES)
    poster = (REPO / "bot" / "publish" / "poster.py").read_text()
    assert "caption_problem(caption)" in poster and "30" not in re.findall(r"caption_problem\(([^)]*)\)", poster)


def test_the_limits_stand_alone() -> None:
    # Drafts, review, posting and the caption rules all build on these limits: they must not need the captions.
    code = "import sys, bot.limits; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['bot.limits']"
