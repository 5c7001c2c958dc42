"""The official API's token: `pawpost login` (exchange, account, 0600 file), renewal by the daemon, status notices."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot import timeutil
from bot.cli import cli
from bot.errors import PawpostError
from bot.publish.publishers.graph.token import (
    TokenRecord,
    keep_alive,
    load_token,
    login,
    refresh_due,
    save_token,
    token_notice,
)
from bot.store.keys import GRAPH_TOKEN_ERROR, POSTING_STOPPED
from tests.bot.publish.conftest import make_draft
from tests.bot.publish.fake_graph import EXPIRED_TOKEN, FakeGraph, error
from tests.bot.publish.publishers.graph.test_publisher import SLOT, _iso, poster, tick


def _with_secret(config, gfake: FakeGraph) -> None:
    secret = config.paths.data.parent / "app-secret"
    secret.write_text(gfake.app_secret + "\n")
    config.graph.app_secret_file = secret


def test_login_exchanges_the_short_token_learns_the_account_and_saves_0600(g_config, g_store, gfake):
    _with_secret(g_config, gfake)
    g_store.put(POSTING_STOPPED, "Instagram no longer accepts the access token (GraphError190).")

    record, note = login(g_config, g_store, "  IGshort-token-abc\n", now=SLOT)

    assert note == ""
    path = g_config.graph_token_file
    saved = json.loads(path.read_text())
    assert saved["access_token"] in gfake.tokens and saved["access_token"] != "IGshort-token-abc"
    assert (saved["user_id"], saved["username"], saved["account_type"]) == (gfake.user_id, gfake.username, "BUSINESS")
    assert saved["expires_at"] == _iso(SLOT + timedelta(seconds=gfake.expires_in))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob(f".{path.name}.*"))  # written atomically: no temp file left
    assert g_store.get(POSTING_STOPPED) is None and record.user_id == gfake.user_id
    assert gfake.count("exchange") == 1 and gfake.count("me") == 1


def test_login_refuses_a_personal_account(g_config, g_store, gfake):
    _with_secret(g_config, gfake)
    gfake.account_type = "PERSONAL"

    with pytest.raises(PawpostError, match="personal account; the official API publishes only for Business"):
        login(g_config, g_store, "IGshort-token-abc")
    assert not g_config.graph_token_file.exists()


def test_login_refuses_an_expired_token(g_config, g_store, gfake):
    _with_secret(g_config, gfake)

    with pytest.raises(PawpostError, match="Instagram refused the token") as caught:
        login(g_config, g_store, "IGshort-expired")
    assert "IGshort-expired" not in str(caught.value)
    assert not g_config.graph_token_file.exists()


def test_login_without_an_app_secret_keeps_a_dashboard_token_as_given(g_config, g_store, gfake):
    record, note = login(g_config, g_store, "IGlong-token-000", now=SLOT)

    assert "kept as given" in note and gfake.count("exchange") == 0
    assert record.access_token == "IGlong-token-000" and record.expires_at is None
    assert load_token(g_config.graph_token_file).user_id == gfake.user_id


def test_pawpost_login_command(g_config, g_store, gfake):
    _with_secret(g_config, gfake)
    g_config.source.write_text(g_config.source.read_text().replace('app_secret_file = ""',
                               f'app_secret_file = "{g_config.graph.app_secret_file}"'))

    result = CliRunner().invoke(cli, ["--config", str(g_config.source), "login"], input="IGshort-token-abc\n")

    assert result.exit_code == 0, result.output
    assert f"token saved for @{gfake.username} (business, user id {gfake.user_id})" in result.output
    assert "IGshort-token-abc" not in result.output and "IGlong" not in result.output


def test_a_token_is_renewed_once_it_is_ten_days_old_not_before(g_config, g_store, gfake, gtoken):
    assert not refresh_due(gtoken, SLOT)  # two hours old
    assert keep_alive(g_config, g_store, SLOT + timedelta(days=9)) is None
    assert gfake.count("refresh") == 0

    renewed = keep_alive(g_config, g_store, SLOT + timedelta(days=10))

    assert renewed is not None and gfake.count("refresh") == 1
    saved = load_token(g_config.graph_token_file)
    assert saved.access_token == renewed.access_token and saved.access_token in gfake.tokens
    assert saved.expires_at == _iso(SLOT + timedelta(days=10, seconds=gfake.expires_in))
    assert saved.user_id == gfake.user_id  # the account is kept
    assert stat.S_IMODE(g_config.graph_token_file.stat().st_mode) == 0o600
    assert "IGlong-token-000" not in gfake.tokens  # the old one is gone: only the saved one works


def test_a_token_of_unknown_expiry_is_renewed_after_a_day(g_config, g_store, gfake):
    save_token(g_config.graph_token_file, TokenRecord("IGlong-token-000", issued_at=_iso(SLOT)))

    assert keep_alive(g_config, g_store, SLOT + timedelta(hours=23)) is None
    assert keep_alive(g_config, g_store, SLOT + timedelta(hours=25)) is not None
    assert load_token(g_config.graph_token_file).expires_at is not None


def test_a_failed_renewal_is_retried_hourly_and_the_owner_warned_in_time(g_config, g_store, gfake, gtoken):
    day = SLOT + timedelta(days=10)
    gfake.fail_next("refresh", error(500, 2, None, "Service temporarily unavailable", transient=True))
    assert keep_alive(g_config, g_store, day) is None
    assert "Service temporarily unavailable" in g_store.get(GRAPH_TOKEN_ERROR)
    assert keep_alive(g_config, g_store, day + timedelta(minutes=30)) is None  # not yet again
    assert gfake.count("refresh") == 1
    assert token_notice(g_config, g_store, day) is None  # 49 days left: nothing for the owner to do

    gfake.fail_next("refresh", error(500, 2, None, "Service temporarily unavailable", transient=True))
    assert keep_alive(g_config, g_store, day + timedelta(hours=1)) is None
    assert gfake.count("refresh") == 2

    late = SLOT + timedelta(days=50)
    notice = token_notice(g_config, g_store, late)
    assert "expires on" in notice and "renewing it fails" in notice and "pawpost login" in notice
    assert keep_alive(g_config, g_store, late) is not None  # Instagram answers again
    assert token_notice(g_config, g_store, late) is None and g_store.get(GRAPH_TOKEN_ERROR) is None


def test_a_revoked_token_is_reported_for_the_owner(g_config, g_store, gfake, gtoken):
    gfake.fail_next("refresh", EXPIRED_TOKEN)

    keep_alive(g_config, g_store, SLOT + timedelta(days=10))

    notice = token_notice(g_config, g_store, SLOT + timedelta(days=10))
    assert "no longer accepts the access token" in notice and "pawpost login" in notice
    assert g_store.one("SELECT * FROM events WHERE kind = 'graph.token'")["level"] == "error"


def test_status_names_an_expired_or_missing_token(g_config, g_store, gfake):
    from bot.status import status

    assert "run 'pawpost login'" in status(g_store, g_config)["token_notice"]
    save_token(g_config.graph_token_file, TokenRecord("IGlong-token-000", gfake.user_id,
                                                      expires_at=_iso(timeutil.now() - timedelta(days=1))))
    assert "expired on" in status(g_store, g_config)["token_notice"]
    result = CliRunner().invoke(cli, ["--config", str(g_config.source), "status"])
    assert result.exit_code == 0 and "instagram token:" in result.output and "expired on" in result.output


def test_the_poster_tick_renews_the_token(g_config, g_store, gfake, gtoken):
    make_draft(g_store, "Renewed and posted #dog")

    assert tick(poster(g_config, g_store), gfake, SLOT + timedelta(days=12)).status == "posted"

    assert gfake.count("refresh") == 1
    assert load_token(g_config.graph_token_file).access_token != gtoken.access_token


def test_a_hand_written_token_file_is_read(g_config, g_store, gfake):
    g_config.graph_token_file.write_text("IGlong-token-000\n")

    assert load_token(g_config.graph_token_file).access_token == "IGlong-token-000"
    g_config.graph_token_file.write_text("not a token at all\n")
    with pytest.raises(PawpostError, match="holds no access token"):
        load_token(g_config.graph_token_file)
