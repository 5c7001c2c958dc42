"""Ids beyond what SQLite can hold: every command that takes a draft id says "no draft" in one line (and one JSON
document under --json); tests/bot/web/test_ids.py has the pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config

HUGE = "99999999999999999999"
JUST_OVER = str(2**63)

COMMANDS = [
    ("drafts", "show", "{id}"),
    ("drafts", "approve", "{id}"),
    ("drafts", "approve", "{id}", "--at", "2030-01-01 10:00"),
    ("drafts", "reject", "{id}"),
    ("drafts", "regenerate", "{id}"),
    ("drafts", "pets", "{id}", "Lola"),
    ("drafts", "edit", "{id}"),
    ("drafts", "posted", "{id}"),
    ("drafts", "resend", "{id}"),
    ("post", "{id}"),
    ("reconcile", "{id}"),
    ("drafts", "media", "{id}", "list"),
]
WITH_JSON = [("drafts", "show", "{id}"), ("drafts", "regenerate", "{id}"), ("drafts", "posted", "{id}"),
             ("drafts", "resend", "{id}"), ("post", "{id}"), ("reconcile", "{id}")]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "home", pets=[{"name": "Lola"}])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_huge_id_is_no_draft_in_one_line(cfg: Path, command: tuple[str, ...]) -> None:
    for draft_id in (HUGE, JUST_OVER):
        result = run_cli(*(part.format(id=draft_id) for part in command), config=cfg, env={"EDITOR": "true"})
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert result.stderr.splitlines() == [f"pawpost: error: there is no draft {draft_id} (see 'pawpost drafts "
                                              "list')"]


@pytest.mark.parametrize("command", WITH_JSON, ids=lambda c: " ".join(c[:2]))
def test_a_huge_id_under_json_is_one_json_document(cfg: Path, command: tuple[str, ...]) -> None:
    result = run_cli(*(part.format(id=HUGE) for part in command), "--json", config=cfg)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert json.loads(result.stdout) == {"error": f"there is no draft {HUGE} (see 'pawpost drafts list')"}


def test_a_huge_photo_id_is_no_photo_in_one_line(cfg: Path) -> None:
    for verb in ("add", "remove", "split"):
        result = run_cli("drafts", "media", "1", verb, HUGE, config=cfg)
        assert result.returncode == 1, (verb, result.stdout, result.stderr)
        assert result.stderr.splitlines() == [f"pawpost: error: there is no photo {HUGE}"]


def test_an_id_that_is_not_a_number_is_still_bad_usage(cfg: Path) -> None:
    result = run_cli("drafts", "show", "12abc", config=cfg)
    assert result.returncode == 2 and "is not a draft id" in result.stderr
