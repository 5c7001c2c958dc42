"""What the notifications say, as a phone receives them through Apprise's json:// (a local receiver records each
POST; attachments arrive base64 in the JSON): "drafts waiting" with thumbnails, first lines and card links,
"posted" with the photo, the caption and the Instagram link, never a local file."""

from __future__ import annotations

import base64
import threading
from io import BytesIO
from typing import Any

from PIL import Image

from bot.config import load_config
from bot.notifications import NotifyWorker, collect
from bot.store.database import Store
from tests.bot.publish.conftest import make_draft
from tests.conftest import write_config

PUBLIC = "https://pets.example.org"


def home(tmp_path, urls: list[str], public_url: str = PUBLIC) -> tuple[Any, Store]:
    config = load_config(write_config(tmp_path / "n", {
        "notify": {"urls": urls, "review_every_hours": 6, "timeout_seconds": 10},
        "web": {"public_url": public_url}}))
    return config, Store.for_config(config)


def attached_images(body: dict[str, Any]) -> list[Image.Image]:
    images = []
    for item in body.get("attachments") or []:
        assert item["mimetype"] == "image/jpeg"
        images.append(Image.open(BytesIO(base64.b64decode(item["base64"]))))
    return images


def test_drafts_waiting_carries_a_thumbnail_the_first_line_and_the_cards_link(tmp_path, receiver):
    config, store = home(tmp_path, [receiver.url])
    worker = NotifyWorker(config, lambda: store)
    worker.round(threading.Event())  # the first round only sets the marks
    draft_id = make_draft(store, "Blanket fort complete 🐶\nSecond line #chihuahua", status="pending",
                          size=(1600, 2000))

    worker.round(threading.Event())

    (body,) = receiver.bodies
    assert body["title"] == "pawpost: 1 draft is waiting for review"
    assert f"Draft {draft_id}: Blanket fort complete 🐶" in body["message"]
    assert "Second line" not in body["message"]
    assert f"{PUBLIC}/drafts/{draft_id}" in body["message"].split()
    (thumb,) = attached_images(body)
    assert max(thumb.size) == 640 and thumb.size[0] < thumb.size[1]  # the photo, made small, upright


def test_several_waiting_drafts_each_get_a_line_and_a_link(tmp_path, receiver):
    config, store = home(tmp_path, [receiver.url])
    worker = NotifyWorker(config, lambda: store)
    worker.round(threading.Event())
    ids = [make_draft(store, f"Caption number {n} #dog", status="pending") for n in range(2)]

    worker.round(threading.Event())

    (body,) = receiver.bodies
    for n, draft_id in enumerate(ids):
        assert f"Draft {draft_id}: Caption number {n} #dog" in body["message"]
        assert f"{PUBLIC}/drafts/{draft_id}" in body["message"].split()
    assert len(attached_images(body)) == 2


def test_posted_carries_the_photo_the_caption_and_the_instagram_link(tmp_path, receiver):
    config, store = home(tmp_path, [receiver.url])
    worker = NotifyWorker(config, lambda: store)
    worker.round(threading.Event())
    draft_id = make_draft(store, "Off to the beach 🌊 #dog", status="posted")
    store.update("drafts", draft_id, media_url="https://www.instagram.com/p/C9NZWmgo97h/", media_code="C9NZWmgo97h")
    store.event("post.posted", f"draft {draft_id} posted: https://www.instagram.com/p/C9NZWmgo97h/",
                draft_id=draft_id)

    worker.round(threading.Event())

    (body,) = receiver.bodies
    assert body["title"] == f"pawpost: draft {draft_id} posted"
    assert body["message"].startswith("Off to the beach 🌊 #dog")
    assert "https://www.instagram.com/p/C9NZWmgo97h/" in body["message"]
    assert len(attached_images(body)) == 1


def test_a_dry_run_post_never_sends_a_file_path(tmp_path):
    config, store = home(tmp_path, [])
    collect(store, config)
    draft_id = make_draft(store, "Dry #dog", status="posted")
    outbox_file = (store.data_dir / "outbox" / f"2026-11-20-{draft_id}.jpg").resolve()
    store.update("drafts", draft_id, media_url=outbox_file.as_uri(), media_code="DRYRUN1")
    store.event("post.posted", f"draft {draft_id} posted: {outbox_file.as_uri()}", draft_id=draft_id)

    (said,) = collect(store, config)

    assert "file:" not in said.body and str(outbox_file) not in said.body
    assert "Dry run" in said.body and said.attach


def test_without_a_public_url_a_loopback_sites_links_say_how_to_reach_them(tmp_path):
    config, store = home(tmp_path, [], public_url="")
    make_draft(store, "Hi #dog", status="pending")

    (said,) = collect(store, config)

    assert "http://127.0.0.1:8686/drafts/1" in said.body
    assert "set [web] public_url" in said.body


def test_a_waiting_reel_carries_its_cover_frame(tmp_path, receiver):
    from tests.videos import make_video

    config, store = home(tmp_path, [receiver.url])
    worker = NotifyWorker(config, lambda: store)
    worker.round(threading.Event())
    draft_id = make_draft(store, "Zoomies 🐶 #dog", status="pending")
    clip = make_video(store.data_dir / "library" / "clip.mp4", seconds=2.0, size=(320, 240), rotation=90)
    photo_id = store.value("SELECT photo_id FROM draft_media WHERE draft_id = ?", (draft_id,))
    store.update("photos", photo_id, kind="video", path=f"library/{clip.name}", cover_at=1.0)

    worker.round(threading.Event())

    (body,) = receiver.bodies
    (thumb,) = attached_images(body)
    assert thumb.size == (240, 320)  # the clip's frame, upright as it is shown
