"""Captions in the account's own voice: prompts, generation backends, rules and ranking.

`Captioner`, `draft_analyzed` and `draft_photos` live in `stage`; they are loaded on first use, so importing the
rules (as `bot.drafts.actions` does) never pulls in the stage or the models.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Captioner", "draft_analyzed", "draft_photos"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot.captions import stage

        return getattr(stage, name)
    raise AttributeError(f"module 'bot.captions' has no attribute {name!r}")
