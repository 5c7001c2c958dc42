"""What the daemon's log and the CLI's stderr say: refused candidates summed up, each ingest once, a line when a
batch starts, no library deprecation notices; and progress on a terminal for the slow commands."""

from __future__ import annotations

import io
import logging
import os
import pty
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from tests.bot.conftest import pipeline_home
from tests.conftest import REPO, run_cli
from tests.tiny_vision import pet_jpeg


def wait_for_text(log: Path, text: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.1)


def test_the_daemon_log_for_one_photo(tmp_path: Path, pipeline_models: dict[str, str]) -> None:
    config = pipeline_home(tmp_path / "home", pipeline_models)
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAWPOST_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env["PYTHONWARNINGS"] = "always"  # every warning a library raises reaches the log's filter, not just the first
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        wait_for_text(log, "watching", proc)
        (config.parent / "inbox" / "lola-on-the-sofa.jpg").write_bytes(pet_jpeg("red", 41))
        wait_for_text(log, "draft.", proc)  # the draft's event: the batch stages are done
    finally:
        proc.terminate()
        proc.wait(60)
    lines = log.read_text().splitlines()
    # Each ingest event once (it was also logged by bot.daemon.threads).
    assert len([ln for ln in lines if "lola-on-the-sofa.jpg" in ln]) == 1, lines
    # A line when each batch stage starts, before the one that says it is done.
    start = next(i for i, ln in enumerate(lines) if "analyzing 1 photo(s)" in ln)
    done = next(i for i, ln in enumerate(lines) if "1 photo(s) new -> analyzed" in ln)
    assert start < done
    assert any("writing captions for 1 photo(s)" in ln for ln in lines)
    # The tiny random captioner's candidates are all refused: one summary, never each text at INFO.
    assert not [ln for ln in lines if "candidate refused" in ln]
    assert len([ln for ln in lines if "candidate(s) refused by the rules (most often" in ln]) >= 1
    assert not [ln for ln in lines if "FutureWarning" in ln or "DeprecationWarning" in ln]


def test_deprecation_notices_are_debug_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import logs

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    stream = io.StringIO()
    logs.setup(0, stream)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("`foo` is deprecated and will be removed in v6", FutureWarning, stacklevel=1)
        warnings.warn("a real problem", UserWarning, stacklevel=1)
    text = stream.getvalue()
    assert "deprecated" not in text
    assert "WARNING py.warnings" in text and "a real problem" in text
    stream.truncate(0)
    logs.setup(2, stream)  # -vv shows them, as debug lines
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("`foo` is deprecated", FutureWarning, stacklevel=1)
    assert "DEBUG py.warnings" in stream.getvalue()


def test_the_cli_keeps_deprecation_notices_off_stderr() -> None:
    script = ("import warnings, sys; from bot.cli import setup_logging; setup_logging(0); "
              "warnings.warn('old api', FutureWarning); warnings.warn('bad thing', UserWarning); "
              "setup_logging(2); warnings.warn('older api', FutureWarning)")
    r = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "old api" not in r.stderr and "bad thing" in r.stderr


# -- progress on a terminal --------------------------------------------------------------------------------

def run_on_tty(*args: str, config: Path) -> tuple[int, str, str]:
    """`pawpost ARGS` with stderr on a pseudo-terminal (stdout a pipe): (exit status, stdout, the terminal's text)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    env.update(TERM="xterm", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), *args], stdout=subprocess.PIPE,
                            stderr=slave, env=env, cwd=REPO, text=True)
    os.close(slave)
    seen = bytearray()

    def drain() -> None:  # a spinner writes many frames: keep the terminal's buffer from filling up
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(10)
    os.close(master)
    return proc.returncode, out, seen.decode("utf-8", "replace")


def test_pets_identify_and_eval_show_progress_on_a_terminal(tmp_path: Path, pipeline_models: dict[str, str]) -> None:
    config = pipeline_home(tmp_path / "home", pipeline_models)
    photo = tmp_path / "lola.jpg"
    photo.write_bytes(pet_jpeg("red", 3))
    rc, out, tty = run_on_tty("pets", "identify", str(photo), config=config)
    assert rc == 0, tty
    assert "looking for your pets in lola.jpg" in tty
    labelled = tmp_path / "labelled" / "Lola"
    labelled.mkdir(parents=True)
    for i in range(3):
        (labelled / f"{i}.jpg").write_bytes(pet_jpeg("red", 10 + i))
    rc, out, tty = run_on_tty("pets", "eval", str(tmp_path / "labelled"), config=config)
    assert rc == 0, tty
    assert "identifying pets: " in tty and " of 3 photos" in tty and "top-1 accuracy" in out
    # Not on a terminal: nothing but the answer.
    piped = run_cli("pets", "identify", str(photo), config=config)
    assert piped.returncode == 0 and "looking for your pets" not in piped.stderr + piped.stdout


def test_regenerate_shows_progress_and_no_dead_end(tmp_path: Path, pipeline_models: dict[str, str]) -> None:
    import json

    config = pipeline_home(tmp_path / "home", pipeline_models)
    (config.parent / "inbox" / "lola.jpg").write_bytes(pet_jpeg("red", 5))
    ingest = run_cli("ingest", "--json", config=config, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    drafts = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    # The tiny random captioner writes nothing that passes the rules: a draft without a caption.
    assert len(drafts) == 1 and drafts[0]["caption"] is None
    draft = drafts[0]["id"]
    rc, out, tty = run_on_tty("drafts", "regenerate", str(draft), config=config)
    assert rc == 0, tty
    assert f"draft {draft}: loading the caption model and writing 2 new candidates" in tty
    # It does not send the owner to an approve that would fail; it names what works.
    assert f"approve with 'pawpost drafts approve {draft}'" not in out
    assert f"write the caption with 'pawpost drafts approve {draft} --caption TEXT'" in out
    assert run_cli("drafts", "approve", str(draft), "--caption", "Lola rests", config=config).returncode == 0
