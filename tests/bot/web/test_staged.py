"""The official API's staged photos through the review site: /staged/<token>.jpg, no login, 404 for anything else."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from bot.publish.staging import MOUNT, STAGE_MINUTES, stage, unstage
from tests.bot.photofiles import photo as jpeg

PUBLIC_HOST = "https://pawpost.example.org"


@pytest.fixture
def public_client(web_config: Any) -> Any:
    """The site as Instagram reaches it: through the owner's proxy, by a public name, with a login required."""
    from starlette.testclient import TestClient

    from bot.web.routes import create_app

    with TestClient(create_app(web_config, login=True), base_url=PUBLIC_HOST) as c:
        yield c


def test_a_staged_photo_is_served_as_jpeg_without_a_login(web_config, public_client, tmp_path: Path):
    photo = tmp_path / "prepared.jpg"
    photo.write_bytes(jpeg(7))
    staged = stage(web_config, photo)

    answer = public_client.get(f"{MOUNT}/{staged.path.name}")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.content == photo.read_bytes()
    assert answer.headers["cache-control"] == "no-store"
    # The exception is only this route: the review pages still want the login.
    assert public_client.get("/", follow_redirects=False).status_code == 401


def test_anything_but_a_live_staged_name_is_404(web_config, public_client, tmp_path: Path):
    photo = tmp_path / "prepared.jpg"
    photo.write_bytes(jpeg(7))
    staged = stage(web_config, photo)
    name = staged.path.name
    (staged.path.parent / "notes.txt").write_text("not a photo")

    for path in ("", "/", "/notes.txt", f"/{name[:-4]}.png", "/" + "a" * 43 + ".jpg", "/..%2Fpawpost.db",
                 f"/{name}/x"):
        answer = public_client.get(MOUNT + path)
        assert answer.status_code == 404, path
        assert answer.content != photo.read_bytes()

    old = time.time() - STAGE_MINUTES * 60 - 5
    os.utime(staged.path, (old, old))
    assert public_client.get(f"{MOUNT}/{name}").status_code == 404  # its minutes are over

    fresh = stage(web_config, photo)
    assert public_client.get(f"{MOUNT}/{fresh.path.name}").status_code == 200
    unstage(fresh)
    assert public_client.get(f"{MOUNT}/{fresh.path.name}").status_code == 404  # removed after publish


def test_a_staged_reel_is_served_as_mp4_in_ranges(web_config, public_client, tmp_path: Path):
    from tests.videos import make_video

    reel = make_video(tmp_path / "reel.mp4", seconds=1.0)
    staged = stage(web_config, reel)
    assert staged.path.suffix == ".mp4" and staged.url.endswith(staged.path.name)
    assert staged.path.stat().st_mode & 0o777 == 0o644

    whole = public_client.get(f"{MOUNT}/{staged.path.name}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content == reel.read_bytes()
    part = public_client.get(f"{MOUNT}/{staged.path.name}", headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == reel.read_bytes()[4:12]
    unstage(staged)
    assert public_client.get(f"{MOUNT}/{staged.path.name}").status_code == 404
