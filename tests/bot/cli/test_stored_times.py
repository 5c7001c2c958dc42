"""Times beyond what pawpost can handle: an `--at` past the horizon is refused at input (CLI and page), and every
reader of a stored time survives one written straight into the database (year 9999, garbage)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import timeutil
from bot.config import load_config
from bot.drafts.actions import get_draft
from bot.drafts.media import add_draft
from bot.store.database import Store
from tests.conftest import run_cli, write_config
from tests.rows import make_photo


def _home(root: Path, zone: str = "UTC") -> Path:
    return write_config(root, {"schedule": {"timezone": zone, "slots": ["09:30", "19:00"]}}, pets=[])


def _drafts(cfg: Path, status: str = "pending", **times: str) -> int:
    with Store.for_config(load_config(cfg)) as store:
        n = store.value("SELECT count(*) FROM drafts") or 0
        photo = make_photo(store, f"p{n}", n + 1)
        when = "2026-01-01T00:00:00+00:00"
        return add_draft(store, [photo], status=status, caption="Nap o'clock", created_at=when, updated_at=when,
                         **times)


def _status_of(cfg: Path, draft_id: int) -> dict[str, Any]:
    with Store.for_config(load_config(cfg)) as store:
        d = get_draft(store, draft_id)
        return {"status": d.status, "scheduled_for": d.scheduled_for}


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_an_at_beyond_the_horizon_is_refused_in_one_line(tmp_path: Path, zone: str) -> None:
    cfg = _home(tmp_path / "home", zone)
    draft = _drafts(cfg)
    far = (timeutil.now() + timeutil.HORIZON + timedelta(days=2)).strftime("%Y-%m-%d 10:00")

    for at in ("9999-12-31 23:59", far):
        result = run_cli("drafts", "approve", str(draft), "--at", at, config=cfg)
        assert result.returncode == 1, result.stdout
        [line] = result.stderr.splitlines()
        assert f"--at {at} is more than {timeutil.HORIZON.days} days ahead; pick a time until" in line, line
        assert _status_of(cfg, draft) == {"status": "pending", "scheduled_for": None}

    near = (timeutil.now() + timeutil.HORIZON - timedelta(days=2)).strftime("%Y-%m-%d 10:00")
    accepted = run_cli("drafts", "approve", str(draft), "--at", near, config=cfg)
    assert accepted.returncode == 0, accepted.stderr
    assert _status_of(cfg, draft)["status"] == "approved"


def test_the_page_refuses_a_time_beyond_the_horizon(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from bot.web.routes import create_app
    from tests.bot.web.conftest import form_token

    cfg = _home(tmp_path / "home", "America/New_York")
    draft = _drafts(cfg)
    with TestClient(create_app(load_config(cfg)), base_url="http://127.0.0.1:8686") as client:
        for at in ("9999-12-31T23:59", "9999-06-01T10:00"):
            response = client.post(f"/drafts/{draft}/approve", data={"csrf": form_token(client), "when": "at",
                                                                     "at": at})
            assert response.status_code == 409, response.text
            assert f"more than {timeutil.HORIZON.days} days ahead" in response.text and "--at" not in response.text
        assert _status_of(cfg, draft)["status"] == "pending"

        client.post(f"/drafts/{draft}/approve", data={"csrf": form_token(client), "when": "queue"})
        moved = client.post(f"/drafts/{draft}/schedule", data={"csrf": form_token(client), "when": "at",
                                                               "at": "9999-06-01T10:00"})
        assert moved.status_code == 409 and f"more than {timeutil.HORIZON.days} days ahead" in moved.text
        assert _status_of(cfg, draft) == {"status": "approved", "scheduled_for": None}


BAD_TIMES = ["9999-12-31T23:00:00+00:00", "garbage\x1b[2J", "0000-00-00"]


@pytest.mark.parametrize("bad", BAD_TIMES)
def test_every_reader_survives_a_bad_stored_time(tmp_path: Path, bad: str) -> None:
    cfg = _home(tmp_path / "home", "Asia/Tokyo")  # ahead of UTC: year 9999 overflows when shown local
    approved = _drafts(cfg, "approved", scheduled_for=bad, approved_at=bad)
    posted = _drafts(cfg, "posted", posted_at=bad, media_code="C1")
    queued = _drafts(cfg, "approved", approved_at="2026-01-01T00:00:00+00:00")

    for command in (("status",), ("schedule",), ("drafts", "list"), ("drafts", "show", str(approved)),
                    ("drafts", "show", str(posted))):
        result = run_cli(*command, config=cfg)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
        assert "\x1b" not in result.stdout  # shown escaped, never raw
        if command[0] != "schedule":
            assert "unreadable" in result.stdout, (command, result.stdout)
    shown = run_cli("drafts", "show", str(approved), config=cfg).stdout
    assert "never as it is: its time is unreadable" in shown

    for command in (("status", "--json"), ("schedule", "--json"), ("drafts", "list", "--json"),
                    ("drafts", "show", str(approved), "--json")):
        result = run_cli(*command, config=cfg)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
        json.loads(result.stdout)

    # The schedule keeps going: the draft without a time of its own fills the next slot; the unreadable one waits.
    slots = json.loads(run_cli("schedule", "--json", config=cfg).stdout)["slots"]
    assert slots[0]["draft_id"] == queued and approved not in [s["draft_id"] for s in slots]


@pytest.mark.parametrize("bad", BAD_TIMES[:2])
def test_every_page_survives_a_bad_stored_time(tmp_path: Path, bad: str) -> None:
    from starlette.testclient import TestClient

    from bot.web.routes import create_app

    cfg = _home(tmp_path / "home", "Asia/Tokyo")
    approved = _drafts(cfg, "approved", scheduled_for=bad, approved_at=bad)
    posted = _drafts(cfg, "posted", posted_at=bad, media_code="C1")
    with TestClient(create_app(load_config(cfg)), base_url="http://127.0.0.1:8686",
                    raise_server_exceptions=False) as client:
        for path in ("/", "/schedule", "/status", "/posted", f"/drafts/{approved}", f"/drafts/{posted}"):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[-500:])
            if path not in ("/", f"/drafts/{posted}"):  # the queue lists pending drafts; a posted card shows no time
                assert "unreadable" in page.text, path
