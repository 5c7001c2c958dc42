"""One line of `pawpost doctor`: a check's name, whether it passed, and what it found or what to fix.

The checks live with what they check (bot.doctor, bot.vision.health, bot.captions.health,
each publisher in bot.publish.publishers); `bot.doctor` runs them all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    warning: bool = False  # not fatal: shown, but doctor still exits 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)
