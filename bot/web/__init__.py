"""The local review site (`pawpost web`, or inside `pawpost run` with [web] enabled): review, correct, approve
and reschedule drafts from a phone, through the same services as the CLI.
"""

from __future__ import annotations

from typing import Any


def create_app(config: Any, *, login: bool | None = None, models: Any = None) -> Any:
    from bot.web.routes import create_app as make

    return make(config, login=login, models=models)
