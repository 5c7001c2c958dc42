"""Control characters (C0 but tab and line break, DEL, C1: an ANSI escape sequence starts with ESC or CSI) in text.

Refused in what the owner types (alt text, hints, reasons, the config's words), stripped from what arrives in the
inbox (hint files), and made visible in whatever is shown on a terminal, so no stored string can drive it.
"""

from __future__ import annotations

import re

from bot.errors import PawpostError

CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def control_problem(text: str, what: str) -> str | None:
    """Why `text` cannot be `what` (it holds a control character), in one sentence; None when it is clean."""
    bad = CONTROL_RE.search(text)
    if bad is None:
        return None
    return (f"the {what} contains a control character (U+{ord(bad.group()):04X}, an escape sequence or an invisible "
            "code); remove it")


def refuse_controls(text: str, what: str) -> str:
    """`text` unchanged, or PawpostError (nothing is saved) when it holds a control character."""
    problem = control_problem(text, what)
    if problem:
        raise PawpostError(f"{problem}; nothing was changed")
    return text


def strip_controls(text: str) -> str:
    """`text` without control characters (tabs become spaces): for text nobody can be asked about, such as a hint
    file someone dropped into the inbox."""
    return CONTROL_RE.sub("", text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n"))


def shown(text: str) -> str:
    """`text` safe to print on a terminal: every control character written out as its escape (`\\x1b`), so it is
    seen, never obeyed. Line breaks and tabs stay."""
    return CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def json_shown(document: str) -> str:
    """A JSON document safe on a terminal: JSON escapes C0 itself; DEL and C1 become \\u escapes (same value)."""
    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", document)
