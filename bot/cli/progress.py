"""Progress for the slow commands (model loads, generation, evaluation): one live line on stderr.

Shown only when stderr is a terminal: pipes, scripts and logs get nothing but the command's own output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner with `message` while the block runs; the block may call the yielded function to change it."""
    if not sys.stderr.isatty():
        yield lambda text: None
        return
    from rich.console import Console

    with Console(stderr=True).status(message) as status:
        yield lambda text: status.update(text)
