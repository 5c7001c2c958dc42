"""`pawpost ingest` end to end: inbox -> recognition -> captions -> draft, and waiting for models."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.conftest import pipeline_home
from tests.conftest import run_cli
from tests.tiny_vision import pet_jpeg


def test_unavailable_models_leave_the_photo_waiting_until_local_folders_are_configured(
    tmp_path: Path, pipeline_models: dict[str, str]
) -> None:
    home = tmp_path / "home"
    config = pipeline_home(home, {})  # the example config's hub models: unreachable here
    (home / "inbox" / "IMG_0001.jpg").write_bytes(pet_jpeg("red", 50))

    first = run_cli("ingest", config=config)
    assert first.returncode == 1  # for scripts: the photo was taken in, but it waits
    assert first.stderr.startswith("pawpost: error: 1 photo(s) wait: models.detector")
    assert "accepted 1" in first.stdout and "analyzed 0, drafted 0" in first.stdout
    assert "waiting:" in first.stdout and "cannot be loaded" in first.stdout
    status = json.loads(run_cli("status", "--json", config=config).stdout)
    assert status["photos"]["new"] == 1
    assert "models.detector" in status["waiting"][0]["error"]
    assert status["models"]["detector"]["error"]
    assert len(list((home / "data" / "library").rglob("*.jpg"))) == 1  # nothing lost
    assert not (home / "inbox" / "IMG_0001.jpg").exists()

    config = pipeline_home(home, pipeline_models)  # the owner points the config at local model folders
    second = run_cli("ingest", "--json", config=config)
    assert second.returncode == 0, second.stderr
    doc = json.loads(second.stdout)
    assert (doc["processed"]["analyzed"], doc["processed"]["drafted"]) == (1, 1)
    drafts = json.loads(run_cli("drafts", "list", "--json", config=config).stdout)
    assert len(drafts) == 1 and drafts[0]["status"] == "pending"
    status = json.loads(run_cli("status", "--json", config=config).stdout)
    assert status["models"]["detector"]["error"] is None and status["waiting"] == []


def test_the_owners_txt_beside_a_photo_is_called_a_hint(tmp_path: Path) -> None:
    """The owner's `.txt` is a hint (`--hint` says the same); a note is what a draft tells the owner."""
    home = tmp_path / "home"
    config = pipeline_home(home, {})
    (home / "inbox" / "IMG_0002.jpg").write_bytes(pet_jpeg("blue", 51))
    assert run_cli("ingest", "--no-process", config=config).returncode == 0
    (home / "inbox" / "IMG_0002.txt").write_text("her first snow\n")  # a moment after its photo
    done = run_cli("ingest", "--no-process", config=config)
    assert done.returncode == 0, done.stderr
    assert "hints 1" in done.stdout and "note" not in done.stdout
    assert "hint: IMG_0002.txt joined photo 1" in done.stdout
