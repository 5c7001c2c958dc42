"""A small benchmark harness: median wall time of commands, and recording results in RESULTS.md.

Benchmarks are scripts (`python -m benchmarks.NAME`), never run by pytest.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def median_seconds(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command_seconds(argv: Sequence[str], runs: int = 5, warmup: int = 1, env: dict[str, str] | None = None) -> float:
    """Median wall time of a command, checking that it succeeds."""

    def once() -> None:
        subprocess.run(argv, check=True, capture_output=True, env=env)

    return median_seconds(once, runs, warmup)


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def record(section: str, lines: list[str]) -> None:
    """Replace (or add) the `## section` of RESULTS.md with these lines and a date stamp."""
    fresh = "# Benchmark results\n\nWritten by the scripts in benchmarks/.\n"
    text = RESULTS.read_text() if RESULTS.exists() else fresh
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = f"## {section}\n\n_{stamp}, {machine()}_\n\n" + "\n".join(lines).rstrip() + "\n"
    header = f"## {section}\n"
    if header in text:
        start = text.index(header)
        end = text.find("\n## ", start + len(header))
        text = text[:start] + body + ("" if end == -1 else text[end:])
    else:
        text = text.rstrip() + "\n\n" + body
    RESULTS.write_text(text)
