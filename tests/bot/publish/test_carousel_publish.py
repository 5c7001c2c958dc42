"""A carousel posted by every publisher: dry-run (a folder per post, through `pawpost post`), instagrapi (an upload
per photo, one configure_sidecar), the official API (a child container per photo, the CAROUSEL container, one
media_publish) and notify (every photo attached, in order). Each photo in its place, with its own alt text."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from bot.drafts.media import media_of, update_medium
from bot.drafts.review import outbox_image
from bot.publish.poster import Poster
from bot.publish.prepare import prepared_copy
from bot.publish.publishers.dryrun import DryRunPublisher
from bot.publish.staging import staging_dir
from tests.bot.publish.conftest import make_carousel, outbox_records
from tests.bot.publish.publishers.graph.test_publisher import SLOT as G_SLOT
from tests.bot.publish.publishers.graph.test_publisher import attempts
from tests.bot.publish.publishers.graph.test_publisher import poster as graph_poster
from tests.bot.publish.publishers.graph.test_publisher import tick as graph_tick
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, poster, tick
from tests.conftest import run_cli

ALTS = ["Lola on the sofa.", "Lola yawning.", "Lola asleep."]


def carousel(store: Any, caption: str) -> int:
    """A three-photo carousel with the owner's alt text on each photo."""
    draft_id = make_carousel(store, caption)
    for position, alt in enumerate(ALTS):
        update_medium(store, draft_id, position, alt_text=alt)
    return draft_id


def copies(store: Any, draft_id: int) -> list[bytes]:
    """The posted copies the owner reviewed, in the post's order."""
    return [prepared_copy(store, m.photo_id).read_bytes() for m in media_of(store, draft_id)]


def test_pawpost_post_writes_a_carousel_to_the_outbox_as_a_folder_in_order(home, config, store):
    draft_id = carousel(store, "Three on the sofa #dog")
    expected = copies(store, draft_id)

    done = run_cli("post", str(draft_id), config=home / "pawpost.toml")

    assert done.returncode == 0, done.stderr
    (record,) = outbox_records(config)
    folder = config.paths.outbox / record["image"].split("/")[0]
    assert [p.name for p in sorted(folder.iterdir())] == ["01.jpg", "02.jpg", "03.jpg"]
    assert [p.read_bytes() for p in sorted(folder.iterdir())] == expected  # each photo in its place
    assert [m["alt_text"] for m in record["media"]] == ALTS
    assert record["caption"] == "Three on the sofa #dog" and record["image"].endswith("/01.jpg")
    row = store.one("SELECT status, media_code, media_url FROM drafts WHERE id = ?", (draft_id,))
    assert row["status"] == "posted" and row["media_code"] == record["media_code"]
    assert row["media_url"] == folder.resolve().as_uri()
    # The outbox reads back as the account: reconcile finds the carousel by its caption.
    (recent,) = DryRunPublisher(config.paths.outbox).recent_media(5)
    assert recent.caption == "Three on the sofa #dog" and recent.url == folder.resolve().as_uri()
    assert outbox_image(config, draft_id) == folder / "01.jpg"  # the posted page's cover


def test_the_daemons_tick_posts_a_carousel_through_dry_run(config, store):
    draft_id = carousel(store, "Tick tock #dog")
    config.schedule.jitter_minutes = 0
    p = Poster(store, config, DryRunPublisher(config.paths.outbox))
    slot = SLOT.replace(hour=int(config.schedule.slots[0][:2]), minute=int(config.schedule.slots[0][3:]))

    assert p.tick(slot).status == "posted"

    (record,) = outbox_records(config)
    assert record["draft_id"] == draft_id and len(record["media"]) == 3


def test_instagrapi_uploads_every_photo_then_configures_the_sidecar_once(ig_config, ig_store, fake, logged_in):
    draft_id = carousel(ig_store, "Album day 🐶 #chihuahua")

    result = tick(poster(ig_config, ig_store), fake, SLOT + timedelta(seconds=20))

    assert result.status == "posted"
    assert fake.count("upload") == 3 and fake.count("configure_sidecar") == 1 and fake.count("configure") == 0
    (media,) = fake.media
    assert media["media_type"] == 8 and media["caption"]["text"] == "Album day 🐶 #chihuahua"
    assert [c["accessibility_caption"] for c in media["carousel_media"]] == ALTS
    assert [c["upload_id"] for c in media["carousel_media"]] == list(fake.uploads)  # every photo, in upload order
    row = draft_row(ig_store, draft_id)
    assert (row["status"], row["media_code"]) == ("posted", media["code"])


def test_the_official_api_makes_children_then_the_carousel_and_publishes_once(g_config, g_store, gfake, gtoken):
    draft_id = carousel(g_store, "Official album #dog")
    expected = copies(g_store, draft_id)

    result = graph_tick(graph_poster(g_config, g_store), gfake, G_SLOT)

    assert result.status == "posted"
    assert gfake.count("create_child") == 3 and gfake.count("create_carousel") == 1 and gfake.count("create") == 0
    assert gfake.count("media_publish") == 1
    (media,) = gfake.media
    assert media["media_type"] == "CAROUSEL_ALBUM" and media["caption"] == "Official album #dog"
    assert [c["image"] for c in media["children"]] == expected
    assert [c["alt_text"] for c in media["children"]] == ALTS
    (attempt,) = attempts(g_store, draft_id)
    carousel_id = next(cid for cid, c in gfake.containers.items() if "children" in c)
    assert attempt["container_id"] == carousel_id and attempt["outcome"] == "posted"
    children = g_store.all("SELECT position, container_id FROM attempt_media WHERE attempt_id = ? ORDER BY position",
                           (attempt["id"],))
    assert [r["container_id"] for r in children] == gfake.containers[carousel_id]["children"]
    assert [r["position"] for r in children] == [0, 1, 2]
    assert not any(staging_dir(g_config).iterdir())  # every one-time URL is gone
    assert draft_row(g_store, draft_id)["media_id"] == media["id"]


def test_notify_attaches_every_photo_in_order(tmp_path, receiver):
    from bot.config import load_config
    from bot.publish.factory import make_publisher
    from bot.store.database import Store
    from tests.bot.publish.publishers.test_by_hand import notify_home

    config = load_config(notify_home(tmp_path, receiver.url))
    with Store.for_config(config) as store:
        draft_id = carousel(store, "By hand, three #dog")
        expected = copies(store, draft_id)

        result = Poster(store, config, make_publisher(config, store)).tick(SLOT)

        assert result.status == "publishing" and "post by hand" in result.message
        (sent,) = receiver.bodies
        assert [base64.b64decode(a["base64"]) for a in sent["attachments"]] == expected
        assert "3 attached photos as one carousel" in sent["message"]
        assert all(f"Alt text of photo {n}" in sent["message"] and alt in sent["message"]
                   for n, alt in enumerate(ALTS, start=1))


def test_a_single_photos_outbox_record_keeps_its_image_and_lists_it(config, store):
    from tests.bot.publish.conftest import make_draft

    make_draft(store, "Just one #dog")
    config.schedule.jitter_minutes = 0
    assert Poster(store, config, DryRunPublisher(config.paths.outbox)).post_now(1).status == "posted"
    (record,) = outbox_records(config)
    assert record["image"].endswith("-1.jpg") and (config.paths.outbox / record["image"]).is_file()
    assert json.dumps(record["media"]) == json.dumps([{"file": record["image"], "alt_text": record["alt_text"]}])
