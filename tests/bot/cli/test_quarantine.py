"""`pawpost quarantine list|retry ID|dismiss ID`, and quarantined files deleted by hand leaving `status`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.publish.conftest import jpeg
from tests.conftest import run_cli, write_config


def _ingest(cfg: Path):
    result = run_cli("ingest", "--no-process", "--json", config=cfg)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _quarantined(cfg: Path) -> list[dict]:
    result = run_cli("quarantine", "list", "--json", config=cfg)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _status(cfg: Path) -> dict:
    return json.loads(run_cli("status", "--json", config=cfg).stdout)


def test_list_retry_after_raising_the_limit_and_dismiss(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "home", {"ingest": {"max_megapixels": 1}})
    inbox = tmp_path / "home" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "big.jpg").write_bytes(jpeg((1600, 1200)))  # 1.9 megapixels: over the limit
    (inbox / "broken.jpg").write_bytes(b"\xff\xd8 this is not a photo at all")
    _ingest(cfg)

    listed = {q["source_name"]: q for q in _quarantined(cfg)}
    text = run_cli("quarantine", "list", config=cfg).stdout
    assert set(listed) == {"big.jpg", "broken.jpg"} and all(q["on_disk"] for q in listed.values())
    assert "max_megapixels" in listed["big.jpg"]["reason"] and "big.jpg" in text and "quarantine retry ID" in text
    assert _status(cfg)["photos"]["quarantined"] == 2

    still = run_cli("quarantine", "retry", str(listed["big.jpg"]["id"]), config=cfg)
    assert still.returncode == 0 and "still set aside" in still.stdout, still.stderr
    big = next(q for q in _quarantined(cfg) if q["source_name"] == "big.jpg")

    write_config(tmp_path / "home", {"ingest": {"max_megapixels": 50}})
    taken = run_cli("quarantine", "retry", str(big["id"]), "--json", config=cfg)
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["status"] == "new"
    assert not Path(big["path"]).exists()  # the kept file went once the photo was in the library

    gone = run_cli("quarantine", "dismiss", str(listed["broken.jpg"]["id"]), config=cfg)
    assert gone.returncode == 0 and "dismissed" in gone.stdout, gone.stderr
    assert not Path(listed["broken.jpg"]["path"]).exists()
    assert _quarantined(cfg) == []
    status = _status(cfg)
    assert status["photos"]["quarantined"] == 0 and status["photos"]["new"] == 1 and status["quarantined"] == []

    again = run_cli("quarantine", "dismiss", str(listed["broken.jpg"]["id"]), config=cfg)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "no photo" in again.stderr
    assert run_cli("quarantine", "retry", str(status["photos"]["new"] + 100), config=cfg).returncode == 1


def test_a_quarantined_file_deleted_by_hand_leaves_status(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "home")
    inbox = tmp_path / "home" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    _ingest(cfg)
    [item] = _quarantined(cfg)
    assert _status(cfg)["photos"]["quarantined"] == 1 and "broken.jpg" in run_cli("status", config=cfg).stdout

    Path(item["path"]).unlink()

    status = _status(cfg)
    assert status["photos"]["quarantined"] == 0 and status["quarantined"] == []
    assert "broken.jpg" not in run_cli("status", config=cfg).stdout
    assert _quarantined(cfg) == []
