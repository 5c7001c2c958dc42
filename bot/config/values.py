"""Checks and readers of single config values, shared by the sections: a hashtag, a secret given inline or in a
file, and text without control characters.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from bot.controls import control_problem
from bot.errors import ConfigError


def hashtag(tag: str) -> str:
    tag = tag.strip()
    if not tag.startswith("#"):
        tag = "#" + tag
    if not re.fullmatch(r"#\w+", tag):
        raise ValueError(f"{tag!r} is not a hashtag (letters, digits and _ only)")
    return tag


def read_secret(value: SecretStr | None, file: Path | None, key: str) -> str | None:
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {file}: {exc.strerror}") from None


def config_text(value: object) -> object:
    """A config value unchanged, or ValueError when a string in it (or in its list or table) holds a control
    character: names, descriptions, the voice and hashtags reach prompts, captions and the owner's terminal."""
    texts = [value] if isinstance(value, str) else list(value.values()) if isinstance(value, dict) else \
        list(value) if isinstance(value, list) else []
    for text in texts:
        problem = control_problem(text, "value") if isinstance(text, str) else None
        if problem:
            raise ValueError(problem.removeprefix("the value "))
    return value
