"""An inbox must be a folder of its own: a home folder, or one holding dot-files pawpost did not make, is refused
(ingest would take every file in it) unless the owner sets [paths] allow_any_inbox."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import run_cli, write_config


def test_the_home_folder_as_inbox_is_refused(tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "tax-return.pdf").write_bytes(b"%PDF-1.4")
    config = write_config(tmp_path / "p")
    config.write_text(config.read_text().replace('inbox = "inbox"', 'inbox = "~"'))

    result = run_cli("ingest", config=config)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f"paths.inbox {home.resolve()} is a home folder" in line and "allow_any_inbox" in line
    assert (home / "tax-return.pdf").exists()


def test_a_folder_holding_foreign_dotfiles_is_refused_unless_allowed(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p")
    inbox = config.parent / "inbox"
    (inbox / ".ssh").mkdir()
    (inbox / ".bashrc").write_text("alias ll='ls -l'\n")
    (inbox / "notes.txt").write_text("mine\n")

    refused = run_cli("ingest", config=config)

    assert refused.returncode == 1
    assert "holds .bashrc, .ssh, which pawpost did not make" in refused.stderr
    assert (inbox / "notes.txt").exists()
    config.write_text(config.read_text().replace("[paths]\n", "[paths]\nallow_any_inbox = true\n"))
    assert run_cli("status", config=config).returncode == 0


def test_what_phones_and_sync_tools_leave_is_fine(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p")
    inbox = config.parent / "inbox"
    (inbox / ".stfolder").mkdir()
    for name in (".DS_Store", "._IMG_0001.jpg", ".nomedia", ".IMG_0002.jpg.Xa9f2"):
        (inbox / name).write_bytes(b"x")

    result = run_cli("status", config=config)

    assert result.returncode == 0, result.stderr
