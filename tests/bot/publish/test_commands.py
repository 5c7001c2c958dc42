"""`pawpost reconcile`, `pawpost drafts resend`, `pawpost post` and `pawpost status` on an unsettled draft, as the owner
runs them (in-process, so the fake Instagram answers; the transport seam gives the CLI the requests transport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.publish.publishers.instagrapi.session import Transport, use_transport
from tests.bot.publish.conftest import make_draft
from tests.bot.publish.fake_instagram import Answer, Timeout
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, draft_row, poster, tick


@pytest.fixture
def pawpost(ig_home, capsys, monkeypatch) -> Iterator[Any]:
    from bot.cli import main

    def run(*args: str, now: Any = None) -> tuple[int, str, str]:
        if now is not None:
            monkeypatch.setenv("PAWPOST_FAKE_NOW", now.isoformat())
        capsys.readouterr()
        try:
            main(["--config", str(ig_home / "pawpost.toml"), *args])
            rc = 0
        except SystemExit as exc:
            rc = int(exc.code or 0)
        out, err = capsys.readouterr()
        return rc, out, err

    with use_transport(Transport.requests()):
        yield run


def unsettled_draft(config: Any, store: Any, fake: Any, caption: str, *, lands: bool) -> int:
    fake.now = (SLOT - timedelta(days=2)).timestamp()
    fake._configure({"caption": "An older post"})
    draft_id = make_draft(store, caption)
    fake.fail_next("configure", Timeout(lands=lands))
    assert tick(poster(config, store), fake, SLOT).status == "publishing"
    return draft_id


def test_reconcile_json_finds_a_post_and_says_what_it_looked_at(ig_config, ig_store, fake, logged_in, pawpost):
    draft_id = unsettled_draft(ig_config, ig_store, fake, "Found you #dog", lands=True)

    rc, out, err = pawpost("reconcile", "--json", now=SLOT + timedelta(seconds=40))

    assert rc == 0, err
    [look] = json.loads(out)["drafts"]
    assert look["draft_id"] == draft_id and look["decision"] == "posted"
    assert look["items"] == 2 and look["reaches_back_to"] == "2026-11-18T09:30:00+00:00"
    assert draft_row(ig_store, draft_id)["status"] == "posted" and fake.count("configure") == 1


def test_reconcile_and_resend_when_the_post_is_not_there(ig_config, ig_store, fake, logged_in, pawpost):
    draft_id = unsettled_draft(ig_config, ig_store, fake, "Not there #dog", lands=False)

    rc, out, err = pawpost("reconcile", str(draft_id), now=SLOT + timedelta(minutes=1))
    assert rc == 0, err
    assert out.startswith(f"draft {draft_id}: unsettled: not on the account yet (1 posts looked at, back to "
                          "2026-11-18 09:30)")
    assert f"pawpost drafts resend {draft_id}" in out

    rc, out, err = pawpost("status", now=SLOT + timedelta(minutes=2))
    assert rc == 0, err
    assert f"unsettled: draft {draft_id} tried 2026-11-20 09:30 UTC" in out
    assert f"'pawpost drafts resend {draft_id}'" in out
    assert "last error: 2026-11-20 09:30 UTC (draft 1) (transient, unknown) ReadTimeout" in out

    # `post` refuses it and says what to run.
    rc, out, err = pawpost("post", str(draft_id), now=SLOT + timedelta(minutes=3))
    assert rc == 1 and "drafts resend" in err and "Traceback" not in err

    rc, out, err = pawpost("drafts", "resend", str(draft_id), "--now", "--json", now=SLOT + timedelta(minutes=4))
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["look"]["decision"] == "approved" and doc["look"]["items"] == 1
    assert doc["post"]["status"] == "posted"
    assert fake.count("configure") == 2 and fake.posts_with("Not there #dog") == 1
    assert ig_store.value("SELECT message FROM events WHERE kind = 'post.resend'").startswith(
        f"draft {draft_id}: the owner decided it was not posted (pawpost checked the account's feed at "
        "2026-11-20 09:34")

    rc, out, err = pawpost("drafts", "resend", str(draft_id), now=SLOT + timedelta(minutes=5))
    assert rc == 1 and err.strip() == (f"pawpost: error: draft {draft_id} is posted; only an unsettled draft "
                                       "(publishing) can be resent")


def test_resend_finds_the_post_after_all_and_sends_nothing(ig_config, ig_store, fake, logged_in, pawpost):
    draft_id = unsettled_draft(ig_config, ig_store, fake, "Late but there #dog", lands=True)

    rc, out, err = pawpost("drafts", "resend", str(draft_id), now=SLOT + timedelta(minutes=1))

    assert rc == 0, err
    assert out.startswith(f"draft {draft_id} is on the account after all")
    assert fake.count("configure") == 1 and draft_row(ig_store, draft_id)["status"] == "posted"


def test_a_failed_post_command_leaves_last_error_and_a_good_post_clears_it(ig_config, ig_store, fake, logged_in,
                                                                            pawpost):
    draft_id = make_draft(ig_store, "Try me #dog")
    fake.fail_next("upload", Answer(503, "<html>Service Unavailable</html>"))

    rc, out, err = pawpost("post", str(draft_id), now=SLOT)
    assert rc == 1 and "not posted" in err
    rc, out, _ = pawpost("status", "--json", now=SLOT)
    err_doc = json.loads(out)["last_error"]
    assert err_doc["error_class"] == "PhotoNotUpload" and err_doc["kind"] == "transient"
    assert err_doc["outcome"] == "unknown" and err_doc["step"] == "upload" and err_doc["draft_id"] == draft_id

    rc, out, err = pawpost("post", str(draft_id), now=SLOT + timedelta(minutes=5))
    assert rc == 0, err
    rc, out, _ = pawpost("status", "--json", now=SLOT + timedelta(minutes=5))
    assert json.loads(out)["last_error"] is None


def test_reconcile_and_resend_with_the_dry_run_publisher(home, store):
    from tests.conftest import run_cli

    approved = make_draft(store, "Nothing unsettled here")
    store.close()
    cfg = home / "pawpost.toml"

    listed = run_cli("reconcile", "--json", config=cfg)
    text = run_cli("reconcile", config=cfg)
    resend = run_cli("drafts", "resend", str(approved), config=cfg)
    usage = run_cli("drafts", "resend", config=cfg)

    assert listed.returncode == 0 and json.loads(listed.stdout) == {"drafts": []}
    assert text.returncode == 0 and text.stdout.strip() == "no unsettled drafts: nothing to reconcile"
    assert resend.returncode == 1 and resend.stderr.strip() == (
        f"pawpost: error: draft {approved} is approved; only an unsettled draft (publishing) can be resent")
    assert usage.returncode == 2
