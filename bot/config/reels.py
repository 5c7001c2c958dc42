"""The `[reels]` section: how a video is made into a Reel (its length, its 9:16 frame, its size and encoding).

Instagram's own figures are bot.limits' REELS_*; these are the owner's choices within them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bot.config.sections import Section
from bot.limits import REELS_MAX_SECONDS, REELS_MIN_SECONDS, REELS_WIDTH

# x264's presets, fastest first: a slower one makes a smaller file of the same quality.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


class ReelsConfig(Section):
    # A clip longer than max_seconds: "trim" keeps its best window (by the frames' best-shot scores), "refuse" fails
    # the draft with the reason.
    too_long: Literal["trim", "refuse"] = "trim"
    max_seconds: Annotated[float, Field(ge=REELS_MIN_SECONDS, le=REELS_MAX_SECONDS)] = 90
    # Not 9:16 already: "crop" keeps the pets in the 9:16 frame (padding only where they would be cut), "pad" shows
    # the whole picture on a black 9:16 canvas.
    fit: Literal["crop", "pad"] = "crop"
    # The Reel's width in pixels (the height is 16/9 of it); never larger than the clip's own picture needs.
    width: Annotated[int, Field(ge=360, le=REELS_WIDTH, multiple_of=2)] = REELS_WIDTH
    # H.264 quality (x264's CRF: lower is better and larger) and speed.
    crf: Annotated[int, Field(ge=0, le=51)] = 23
    preset: Literal[PRESETS] = "fast"  # type: ignore[valid-type]
