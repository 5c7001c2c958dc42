"""The review site's locks: the one-time login link, session cookies (missing, forged, expired), CSRF on every
POST, the failed-login limit, the Host check without login, and the secret file."""

from __future__ import annotations

import os
import re
import stat
import time

import pytest

from bot.drafts.actions import get_draft
from bot.web.auth import COOKIE, SECRET_FILE, Sessions, load_secret, new_login_token
from tests.bot.web.conftest import add_draft, csrf_of, form_token
from tests.conftest import run_cli, write_config


def login(client, store) -> None:
    token = new_login_token(store)
    landing = client.get(f"/login?token={token}")
    assert landing.status_code == 200 and 'action="/login"' in landing.text
    done = client.post("/login", data={"token": token}, follow_redirects=False)
    assert done.status_code == 303, done.text


def test_without_a_session_every_page_and_action_asks_for_the_login_link(login_client, web_store):
    draft_id = add_draft(web_store, ["hello"])

    for path in ("/", "/schedule", "/posted", "/status", f"/drafts/{draft_id}", f"/drafts/{draft_id}/image"):
        response = login_client.get(path)
        assert response.status_code == 401, path
        assert "pawpost web --url" in response.text
    refused = login_client.post(f"/drafts/{draft_id}/approve", data={"csrf": "anything"})
    assert refused.status_code == 401
    assert get_draft(web_store, draft_id).status == "pending"


def test_the_login_link_works_once_and_sets_a_strict_httponly_cookie(login_client, web_store):
    token = new_login_token(web_store)
    assert login_client.get(f"/login?token={token}").status_code == 200  # opening the link (a preview) spends nothing

    done = login_client.post("/login", data={"token": token}, follow_redirects=False)

    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert done.status_code == 303
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert login_client.get("/").status_code == 200
    login_client.cookies.clear()
    again = login_client.post("/login", data={"token": token})
    assert again.status_code == 403 and "already been used" in again.text


def test_an_expired_login_link_is_refused_clearly(login_client, web_store):
    token = new_login_token(web_store, minutes=-1)

    response = login_client.post("/login", data={"token": token})

    assert response.status_code == 403 and "expired" in response.text


def test_a_forged_or_expired_session_cookie_gets_a_clear_page(login_client, web_config, web_store):
    login(login_client, web_store)
    good = login_client.cookies[COOKIE]
    expiry, version, nonce, sig = good.split(".")

    login_client.cookies.clear()
    assert login_client.get("/", headers={"cookie": f"{COOKIE}={good}"}).status_code == 200

    # a longer life with the same signature
    forged = login_client.get("/", headers={"cookie": f"{COOKIE}={int(expiry) + 10**6}.{version}.{nonce}.{sig}"})
    sessions = Sessions(load_secret(web_config.paths.data), web_config.web.session_days)
    old = sessions.issue(now=time.time() - 31 * 86400)[0]
    expired = login_client.get("/", headers={"cookie": f"{COOKIE}={old}"})

    assert forged.status_code == 401 and "no longer valid" in forged.text
    assert expired.status_code == 401 and "Your session has expired" in expired.text
    assert "Traceback" not in forged.text + expired.text


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_this_sessions_csrf_token_changes_nothing(login_client, web_store, token):
    draft_id = add_draft(web_store, ["hello"])
    login(login_client, web_store)
    data = {"caption": "hello"} if token is None else {"csrf": token, "caption": "hello"}

    response = login_client.post(f"/drafts/{draft_id}/approve", data=data)

    assert response.status_code == 403 and "nothing was changed" in response.text
    assert get_draft(web_store, draft_id).status == "pending"


def test_another_sessions_csrf_token_is_refused(login_client, web_store):
    draft_id = add_draft(web_store, ["hello"])
    login(login_client, web_store)
    theirs = form_token(login_client)
    login_client.cookies.clear()
    login(login_client, web_store)

    response = login_client.post(f"/drafts/{draft_id}/reject", data={"csrf": theirs})

    assert response.status_code == 403
    assert get_draft(web_store, draft_id).status == "pending"
    ok = login_client.post(f"/drafts/{draft_id}/reject", data={"csrf": form_token(login_client)})
    assert ok.status_code == 200 and get_draft(web_store, draft_id).status == "rejected"


def test_failed_logins_are_rate_limited_even_for_a_good_link_afterwards(login_client, web_store):
    for _ in range(5):
        assert login_client.post("/login", data={"token": "guess"}).status_code == 403
    good = new_login_token(web_store)

    blocked = login_client.post("/login", data={"token": good})

    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    assert login_client.get(f"/login?token={good}").status_code == 429
    assert web_store.get(f"web_login:{__import__('hashlib').sha256(good.encode()).hexdigest()}") is not None


def test_on_loopback_no_login_is_needed_but_posts_still_need_the_token(client, web_store):
    draft_id = add_draft(web_store, ["hello"])

    page = client.get("/")
    assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
    client.cookies.clear()
    refused = client.post(f"/drafts/{draft_id}/approve", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403  # a page elsewhere posting to localhost has no session cookie


def test_without_login_only_a_loopback_host_name_is_served(client, web_store):
    response = client.get("/", headers={"host": "evil.example:8686"})

    assert response.status_code == 400 and "Unknown host name" in response.text
    assert client.get("/", headers={"host": "localhost:8686"}).status_code == 200


def test_listening_beyond_loopback_requires_login(tmp_path):
    from bot.config import load_config
    from bot.drafts.review import login_required

    lan = load_config(write_config(tmp_path / "a", {"web": {"listen": "0.0.0.0:8686"}}))
    local = load_config(write_config(tmp_path / "b", {"web": {"listen": "127.0.0.1:8686"}}))
    forced = load_config(write_config(tmp_path / "c", {"web": {"require_login": True}}))

    assert login_required(lan) and not login_required(local) and login_required(forced)


def test_the_cookie_is_secure_behind_https(tmp_path):
    from starlette.testclient import TestClient

    from bot.config import load_config
    from bot.store.database import Store
    from bot.web.routes import create_app

    config = load_config(write_config(tmp_path / "h", {"web": {"listen": "0.0.0.0:8686",
                                                               "public_url": "https://pets.example.org"}}))
    store = Store.for_config(config)
    with TestClient(create_app(config), base_url="https://pets.example.org") as c:
        token = new_login_token(store)
        done = c.post("/login", data={"token": token}, follow_redirects=False)
    assert all("Secure" in c for c in done.headers.get_list("set-cookie"))


def test_the_secret_is_private_and_stable(web_config):
    first = load_secret(web_config.paths.data)
    path = web_config.paths.data / SECRET_FILE

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(web_config.paths.data) == first and len(first) == 32


def test_pawpost_web_url_prints_a_link_that_logs_in(tmp_path):
    from starlette.testclient import TestClient

    from bot.config import load_config
    from bot.web.routes import create_app

    config_path = write_config(tmp_path / "u", {"web": {"listen": "0.0.0.0:8686",
                                                        "public_url": "https://pets.example.org/"}})

    done = run_cli("web", "--url", config=config_path)

    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert re.fullmatch(r"https://pets\.example\.org/login\?token=[\w-]+", link), link
    with TestClient(create_app(load_config(config_path)), base_url="https://pets.example.org") as c:
        assert c.post("/login", data={"token": link.split("=", 1)[1]}, follow_redirects=True).status_code == 200
        assert c.get("/status").status_code == 200


def test_a_wrong_listen_address_is_one_line(tmp_path):
    config_path = write_config(tmp_path / "w", {"web": {"listen": "8686"}})

    done = run_cli("web", "--url", config=config_path)

    assert done.returncode == 1 and "web.listen: must be HOST:PORT" in done.stderr and "Traceback" not in done.stderr


def test_every_response_forbids_framing_foreign_scripts_and_the_referer(client, web_store):
    draft_id = add_draft(web_store, ["hello"])

    for path in ("/", f"/drafts/{draft_id}/image", "/static/app.js", "/nowhere"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["referrer-policy"] == "no-referrer" and headers["x-content-type-options"] == "nosniff"


def test_logout_ends_the_session_on_the_server_too(login_client, web_store):
    login(login_client, web_store)
    kept = login_client.cookies[COOKIE]  # a copy of the cookie, as a stolen one or another tab would keep it

    done = login_client.post("/logout", data={"csrf": form_token(login_client)}, follow_redirects=False)

    assert done.status_code == 303
    login_client.cookies.clear()
    again = login_client.get("/", headers={"cookie": f"{COOKIE}={kept}"})
    assert again.status_code == 401 and "You are logged out" in again.text
    login(login_client, web_store)  # a fresh login still works
    assert login_client.get("/").status_code == 200


def test_revoke_all_ends_every_session(login_client, web_store, web_home):
    login(login_client, web_store)
    first = login_client.cookies[COOKIE]
    login_client.cookies.clear()
    login(login_client, web_store)
    assert login_client.get("/").status_code == 200

    result = run_cli("web", "--url", "--revoke-all", config=web_home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    assert "/login?token=" in result.stdout and "every review-site session has ended" in result.stderr
    assert login_client.get("/").status_code == 401
    login_client.cookies.clear()
    assert login_client.get("/", headers={"cookie": f"{COOKIE}={first}"}).status_code == 401
    token = result.stdout.strip().rsplit("token=", 1)[1]
    assert login_client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    assert login_client.get("/").status_code == 200
