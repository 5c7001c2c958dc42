"""Fixtures for the review site: a pawpost home with pending drafts (real JPEGs in the library) and clients."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest

from bot.drafts.media import first_photo
from tests.bot.publish.conftest import make_draft
from tests.conftest import write_config

PETS = [{"name": "Lola", "species": "dog"}, {"name": "Bruno", "species": "cat"}]
LOCAL = "http://127.0.0.1:8686"


def add_draft(store: Any, candidates: list[str], *, status: str = "pending", source_name: str = "IMG_0412.HEIC",
              size: tuple[int, int] = (900, 1600), boxes: list[list[float]] | None = None) -> int:
    """A draft as the pipeline leaves it: photo (with its original file name), candidates, the best as caption."""
    draft_id = make_draft(store, candidates[0] if candidates else "", status=status, size=size, boxes=boxes)
    photo_id = first_photo(store, draft_id)
    store.update("photos", photo_id, source_name=source_name, taken_at="2026-11-20T08:15:00+00:00")
    if not candidates:
        store.update("drafts", draft_id, caption=None)
    for position, text in enumerate(candidates):
        store.insert("candidates", draft_id=draft_id, position=position, text=text, passed=1)
    store.update("drafts", draft_id, chosen=0 if candidates else None)
    return draft_id


def set_pet(store: Any, draft_id: int, name: str, confidence: float) -> None:
    photo_id = first_photo(store, draft_id)
    pet_id = store.value("SELECT id FROM pets WHERE name = ?", (name,))
    store.db.execute("INSERT INTO photo_pets (photo_id, pet_id, confidence, box, source) VALUES (?, ?, ?, '', 'model')",
                     (photo_id, pet_id, confidence))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (for a site the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" (?:value|content)="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def web_home(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    write_config(root, {"schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0,
                                     "max_posts_per_day": 2}}, pets=PETS)
    return root


@pytest.fixture
def web_config(web_home: Path) -> Any:
    from bot.config import load_config

    return load_config(web_home / "pawpost.toml")


@pytest.fixture
def web_store(web_config: Any) -> Any:
    from bot.store.database import Store
    from bot.vision.pets import ensure_pets

    store = Store.for_config(web_config)
    ensure_pets(store, web_config)
    yield store
    store.close()


@pytest.fixture
def client(web_config: Any, web_store: Any) -> Any:
    """The site as it runs on loopback (no login), through Starlette's test client."""
    from starlette.testclient import TestClient

    from bot.web.routes import create_app

    with TestClient(create_app(web_config), base_url=LOCAL) as c:
        yield c


@pytest.fixture
def login_client(web_config: Any, web_store: Any) -> Any:
    """The site as it runs on the LAN: every page needs the login link's session."""
    from starlette.testclient import TestClient

    from bot.web.routes import create_app

    with TestClient(create_app(web_config, login=True), base_url="http://192.168.1.20:8686") as c:
        yield c


def form_token(client: Any, path: str = "/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def regenerated(client: Any, draft_id: int, timeout: float = 120.0) -> dict[str, Any]:
    """The draft's regenerate as the page's poll sees it, once it is no longer running (failing after `timeout`)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/drafts/{draft_id}/regenerate").json()
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, f"draft {draft_id}'s regenerate still runs: {job}"
        time.sleep(0.05)
