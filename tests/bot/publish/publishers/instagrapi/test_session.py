"""The Instagram session (bot/publish/session.py): the saved session file (0600, same device), no resends and real
timeouts in the client, login and two-factor codes, and a stop that keeps every non-interactive client from trying.
Posting through it: test_instagram.py.
"""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from bot.errors import PawpostError
from bot.publish import gate
from bot.publish.errors import ErrorKind, PublishError
from bot.publish.publishers.instagrapi.publisher import InstagramPublisher, login_interactive
from bot.publish.publishers.instagrapi.session import load_session, make_client, session_state, totp_code
from tests.bot.publish.conftest import CLIENT, make_draft
from tests.bot.publish.fake_instagram import SERVER_ERROR
from tests.bot.publish.publishers.instagrapi.test_publisher import SLOT, poster, tick


def test_no_automatic_resends_and_real_timeouts(ig_config, ig_store, fake, logged_in):
    client = InstagramPublisher(ig_config, ig_store, **CLIENT).client()
    adapters = set(client.private.adapters.values())

    assert adapters and all(a.max_retries.total == 0 for a in adapters)
    make_draft(ig_store)
    fake.fail_next("configure", SERVER_ERROR)
    result = tick(poster(ig_config, ig_store), fake, SLOT)

    assert fake.count("configure") == 1  # a 500 on configure is not resent by the transport...
    assert result.status == "publishing"  # ...and may have landed: it is reconciled, not retried
    assert fake.timeouts and all(t == (10.0, 60.0) for t in fake.timeouts)


def test_session_file_is_0600_and_keeps_the_device(ig_config, ig_store, fake, logged_in):
    path = ig_config.session_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["authorization_data"]["sessionid"] == fake.sessionid
    device = saved["uuids"]["uuid"]

    # A new process loads the session (no login) and, after Instagram logs it out, logs in again as the same device.
    make_draft(ig_store, "Zoomies #dog")
    fake.expire_session()
    result = tick(poster(ig_config, ig_store), fake, SLOT)

    assert result.status == "posted"
    assert fake.count("login") == 2
    assert set(fake.device_ids) == {device}
    again = json.loads(path.read_text())
    assert again["uuids"]["uuid"] == device and again["authorization_data"]["sessionid"] == fake.sessionid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pawpost_login_asks_for_the_password_and_saves_a_private_session(tmp_path, fake, capsys, caplog):
    from bot.config import load_config
    from bot.errors import PawpostError
    from bot.store.database import Store
    from tests.conftest import write_config

    caplog.set_level(logging.DEBUG)
    config = load_config(write_config(tmp_path / "home", {
        "instagram": {"publisher": "instagrapi", "username": fake.username}}))
    store = Store.for_config(config)
    try:
        store.put("posting_stopped", "Instagram refused the password: fix it, then run 'pawpost login' (BadPassword).")
        with pytest.raises(PawpostError, match="refused the password"):
            login_interactive(config, store, ask_password=lambda: "wrong password", ask_code=lambda _p: "", **CLIENT)
        assert not config.session_file.exists() and store.get("posting_stopped")

        asked: list[str] = []
        username = login_interactive(config, store, ask_password=lambda: asked.append("pw") or fake.password,
                                     ask_code=lambda _p: "", **CLIENT)

        assert username == fake.username and asked == ["pw"]
        assert stat.S_IMODE(config.session_file.stat().st_mode) == 0o600
        assert json.loads(config.session_file.read_text())["authorization_data"]["sessionid"] == fake.sessionid
        assert store.get("posting_stopped") is None
        seen = caplog.text + "".join(capsys.readouterr())
        assert fake.password not in seen and fake.sessionid not in seen
    finally:
        store.close()


def test_two_factor_codes_come_from_the_totp_seed(tmp_path):
    import pyotp

    from bot.config import load_config
    from tests.conftest import write_config

    seed = pyotp.random_base32()
    config = load_config(write_config(tmp_path / "h", {
        "instagram": {"publisher": "instagrapi", "username": "lola", "totp_seed": seed}}))

    assert totp_code(config) == pyotp.TOTP(seed).now()
    config.instagram.totp_seed = None
    assert totp_code(config) == ""



def test_a_refused_password_stops_posting_and_no_client_tries_again_until_login(ig_config, ig_store, fake):
    ig_config.instagram.password = type(ig_config.instagram.password)("not the password")

    with pytest.raises(PublishError) as refused:
        make_client(ig_config, ig_store, **CLIENT)

    assert refused.value.kind == ErrorKind.FATAL
    assert "pawpost login" in gate.stopped(ig_store)
    assert [r[0] for r in ig_store.all("SELECT message FROM events WHERE kind = 'post.stopped'")] == [
        f"Instagram login failed: {refused.value.label}"]
    before = len(fake.received)
    with pytest.raises(PublishError, match="posting is stopped"):
        make_client(ig_config, ig_store, **CLIENT)
    assert len(fake.received) == before  # stopped: not even a login is tried


def test_a_session_file_readable_by_others_is_made_private_and_a_broken_one_named(tmp_path, caplog):
    path = tmp_path / "instagram-session.json"
    assert load_session(path) is None
    path.write_text(json.dumps({"uuids": {"uuid": "device-1"}}))
    os.chmod(path, 0o644)

    with caplog.at_level(logging.WARNING):
        assert load_session(path) == {"uuids": {"uuid": "device-1"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "readable by others" in caplog.text

    path.write_text("{not json")
    with pytest.raises(PawpostError, match=r"cannot be read .*delete it and run 'pawpost login'"):
        load_session(path)


def test_doctor_reads_the_session_state_without_the_network(ig_config, ig_store, fake):
    ok, message = session_state(ig_config)
    assert not ok and "no Instagram session" in message
    make_client(ig_config, ig_store, **CLIENT)
    ok, message = session_state(ig_config)
    assert ok and "(mode 600, saved" in message
    os.chmod(ig_config.session_file, 0o644)
    ok, message = session_state(ig_config)
    assert not ok and "chmod 600" in message


def test_no_username_is_one_sentence_that_says_what_to_set(config, store):
    # The dry-run config has no username; history import still needs the account through instagrapi.
    with pytest.raises(PawpostError, match=r"instagram\.username is not set"):
        make_client(config, store, **CLIENT)


def test_a_seed_that_is_not_base32_is_a_config_error_for_doctor_and_run(tmp_path):
    from tests.conftest import run_cli, write_config

    seed = tmp_path / "totp-seed"
    seed.write_text("NOT-A-SEED-1890\n")
    path = write_config(tmp_path / "h", {"instagram": {"publisher": "instagrapi", "username": "lola",
                                                       "totp_seed_file": str(seed)}})
    for command in (("doctor",), ("run",)):
        result = run_cli(*command, config=path, timeout=60)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "instagram.totp_seed_file: not a valid two-factor seed" in result.stderr
        assert "NOT-A-SEED" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_seed_gone_bad_while_running_stops_posting_without_a_login(ig_config, ig_store, fake):
    ig_config.instagram.totp_seed = type(ig_config.instagram.password)("0189 !!")
    make_draft(ig_store)

    result = tick(poster(ig_config, ig_store), fake, SLOT)

    assert result.status == "approved" and fake.count("login") == 0
    stopped = ig_store.get("posting_stopped")
    assert stopped and "two-factor seed" in json.dumps(stopped)
