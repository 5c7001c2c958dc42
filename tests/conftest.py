"""Shared fixtures: an isolated pawpost home (config + folders + database) per test, offline models."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# Set before anything imports huggingface_hub or torch, which read them once, at import time: no test ever
# reaches the hub (an online lookup retries for minutes), and tiny models gain nothing from threads, whose
# spinning costs seconds on a small shared CPU. Subprocesses (the daemon, the CLI) inherit both.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's config, environment overrides or the network hub."""
    for key in list(os.environ):
        if key.startswith("PAWPOST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)  # the per-user config is under the test's HOME
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """time.sleep returns at once: for code that pauses between requests (instagrapi, and its login flow)."""
    import time

    monkeypatch.setattr(time, "sleep", lambda _s: None)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + " }"
    return repr(value)


def write_config(directory: Path, sections: dict[str, dict[str, Any]] | None = None,
                 pets: list[dict[str, Any]] | None = None) -> Path:
    """Write a pawpost.toml: the example config's values, with `sections` merged over them."""
    example = tomllib.loads((REPO / "config.example.toml").read_text())
    example["paths"] = {"inbox": "inbox", "data": "data"}
    example["schedule"]["timezone"] = "UTC"
    for name, values in (sections or {}).items():
        example.setdefault(name, {}).update(values)
    if pets is not None:
        example["pets"] = pets
    lines: list[str] = []
    for name, values in example.items():
        if name == "pets":
            continue
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
        for sub, table in nested.items():
            lines.append(f"[{name}.{sub}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    for pet in example.get("pets", []):
        lines.append("[[pets]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in pet.items()]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pawpost.toml"
    path.write_text("\n".join(lines) + "\n")
    for sub in ("inbox", "data"):
        (directory / sub).mkdir(exist_ok=True)
    return path


@pytest.fixture
def home_sections() -> dict[str, dict[str, Any]]:
    """Config sections `home` writes over the example config's values: none here; a test module that needs others
    overrides this fixture."""
    return {}


@pytest.fixture
def home(tmp_path: Path, home_sections: dict[str, dict[str, Any]]) -> Path:
    """A pawpost home folder with the example config (paths inbox/ and data/, UTC schedule) and `home_sections`."""
    root = tmp_path / "pawpost"
    write_config(root, home_sections)
    return root


@pytest.fixture
def config(home: Path):
    from bot.config import load_config

    return load_config(home / "pawpost.toml")


@pytest.fixture
def store(config):
    from bot.store.database import Store

    s = Store.for_config(config)
    yield s
    s.close()


def run_cli(*args: str, config: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `pawpost` in a subprocess, as an owner or a script would."""
    argv = [sys.executable, "-m", "bot"]
    if config is not None:
        argv += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    full_env.update(env or {})
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=full_env, input=input,
                          timeout=timeout, cwd=REPO)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests marked slow are spread evenly over the first quarter of the run: each takes up to a few
    minutes, mostly waiting on a daemon, so one started last would end the run alone while the other test workers
    sit idle, and all of them in a row would do the same. (pytest-xdist's load scheduling hands each worker its
    first tests from that quarter, in consecutive chunks.)"""
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if not slow or len(slow) == len(items):
        return
    rest = [item for item in items if item.get_closest_marker("slow") is None]
    step = max(1, len(items) // 4 // len(slow))
    for k, item in enumerate(slow):
        rest.insert(min(k * step, len(rest)), item)
    items[:] = rest
