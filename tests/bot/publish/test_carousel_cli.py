"""A three-photo carousel end to end as the owner drives it: `pawpost drafts approve ID`, then `pawpost post ID` (or
the daemon at its slot), through dry-run, the instagrapi fake and the official-API fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.publish.publishers.instagrapi.session import Transport, use_transport
from tests.bot.daemon.test_supervisor import SCHEDULE, Bot, fake_now
from tests.bot.publish.conftest import make_carousel, outbox_records
from tests.conftest import run_cli, write_config


def cli(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`pawpost` in this process (so that the fakes behind `responses` answer it)."""
    from bot.cli import main

    capsys.readouterr()
    try:
        main(["--config", str(home / "pawpost.toml"), *args])
        rc = 0
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def requests_transport() -> Iterator[None]:
    with use_transport(Transport.requests()):
        yield


def test_approve_then_post_through_the_instagrapi_fake(ig_home, ig_store, fake, logged_in, capsys,
                                                       requests_transport):
    draft_id = make_carousel(ig_store, "a draft caption", status="pending")

    rc, out, err = cli(ig_home, capsys, "drafts", "approve", str(draft_id), "--caption", "Three of us #chihuahua")
    assert rc == 0, err
    rc, out, err = cli(ig_home, capsys, "post", str(draft_id))

    assert rc == 0, err
    (media,) = fake.media
    assert media["media_type"] == 8 and len(media["carousel_media"]) == 3
    assert media["caption"]["text"].startswith("Three of us #chihuahua") and media["code"] in out
    assert fake.count("upload") == 3 and fake.count("configure_sidecar") == 1
    assert ig_store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,)) == "posted"


def test_approve_then_post_through_the_official_api_fake(g_config, g_store, gfake, gtoken, capsys):
    draft_id = make_carousel(g_store, "a draft caption", status="pending")
    home = Path(g_config.source).parent

    rc, out, err = cli(home, capsys, "drafts", "approve", str(draft_id), "--caption", "Three, officially #dog")
    assert rc == 0, err
    rc, out, err = cli(home, capsys, "post", str(draft_id))

    assert rc == 0, err
    (media,) = gfake.media
    assert media["media_type"] == "CAROUSEL_ALBUM" and len(media["children"]) == 3
    assert media["caption"].startswith("Three, officially #dog") and media["shortcode"] in out
    assert gfake.count("create_child") == 3 and gfake.count("media_publish") == 1
    assert g_store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,)) == "posted"


@pytest.mark.slow
def test_the_daemon_posts_an_approved_carousel_at_its_slot_through_dry_run(tmp_path):
    from bot.config import load_config
    from bot.store.database import Store

    path = write_config(tmp_path / "home", {"schedule": SCHEDULE, "instagram": {"publisher": "dry-run"}})
    config = load_config(path)
    with Store.for_config(config) as store:
        draft_id = make_carousel(store, "a draft caption", status="pending")
    done = run_cli("drafts", "approve", str(draft_id), "--caption", "Three at noon #dog", config=path,
                   env={"PAWPOST_FAKE_NOW": fake_now(0)})
    assert done.returncode == 0, done.stderr

    bot = Bot(path, tmp_path / "daemon.log", {"PAWPOST_FAKE_NOW": fake_now(0)})
    try:
        deadline = time.monotonic() + 120
        while not outbox_records(config) and time.monotonic() < deadline and bot.alive:
            time.sleep(0.2)
        assert bot.stop() == 0, (tmp_path / "daemon.log").read_text()[-3000:]
    finally:
        if bot.alive:
            bot.kill()

    (record,) = outbox_records(config)
    assert record["draft_id"] == draft_id and record["caption"].startswith("Three at noon #dog")
    assert [m["file"].rsplit("/", 1)[-1] for m in record["media"]] == ["01.jpg", "02.jpg", "03.jpg"]
    with Store.for_config(config) as store:
        assert store.value("SELECT status FROM drafts WHERE id = ?", (draft_id,)) == "posted"
