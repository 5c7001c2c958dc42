"""`pawpost doctor` with publisher = "graph": token, account type, permissions, quota, and the public photo URL
fetched the way Instagram will (staging.resolve behind a fake proxy); plus the staging module's own rules."""

from __future__ import annotations

import os
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from bot.publish.publishers.graph.doctor import graph_checks
from bot.publish.publishers.graph.token import TokenRecord, save_token
from bot.publish.staging import MOUNT, STAGE_MINUTES, resolve, stage, staging_dir, sweep, unstage
from tests.bot.publish.fake_graph import PUBLIC, error

PROXY = re.compile(r"https://pets\.example\.com/.*")


def proxy(rsps: Any, config: Any, answer: Any = None) -> None:
    """The owner's reverse proxy in front of pawpost's web server; `answer` replaces what it sends."""
    def serve(request: Any) -> Any:
        if answer is not None:
            if isinstance(answer, Exception):
                raise answer
            return answer
        path = resolve(config, urlsplit(request.url).path.removeprefix(MOUNT))
        if path is None:
            return 404, {"Content-Type": "text/plain"}, "not found"
        return 200, {"Content-Type": "image/jpeg"}, path.read_bytes()

    rsps.add_callback("GET", PROXY, callback=serve)


def checks(config: Any) -> dict[str, Any]:
    return {c.name: c for c in graph_checks(config, sleep=lambda _s: None)}


def test_doctor_passes_with_a_working_setup(g_config, g_store, gfake, gtoken):
    proxy(gfake.rsps, g_config)

    found = checks(g_config)

    assert all(c.ok and not c.warning for c in found.values()), found
    assert "user id 17841400000000042" in found["instagram account"].message
    assert "0 of 100 API posts used in the last 24 h" in found["instagram publishing"].message
    assert "fetched from this machine" in found["public url"].message
    assert not any(staging_dir(g_config).iterdir())  # the test photo is gone again


def test_doctor_reports_a_spent_quota_a_personal_account_and_a_missing_permission(g_config, g_store, gfake, gtoken):
    proxy(gfake.rsps, g_config)
    gfake.quota_usage = 100
    assert not checks(g_config)["instagram publishing"].ok

    gfake.fail_next("content_publishing_limit", error(403, 10, None, "Application does not have permission"))
    message = checks(g_config)["instagram publishing"].message
    assert "instagram_business_content_publish" in message and "pawpost login" in message

    gfake.account_type = "PERSONAL"
    account = checks(g_config)["instagram account"]
    assert not account.ok and "personal account" in account.message


def test_doctor_reports_a_missing_expired_or_open_token(g_config, g_store, gfake):
    proxy(gfake.rsps, g_config)
    assert "run 'pawpost login'" in checks(g_config)["instagram token"].message

    save_token(g_config.graph_token_file, TokenRecord("IGlong-revoked", gfake.user_id))
    account = checks(g_config)["instagram account"]
    assert not account.ok and "code 190" in account.message and "IGlong-revoked" not in account.message

    save_token(g_config.graph_token_file, TokenRecord("IGlong-token-000", gfake.user_id,
                                                      expires_at="2020-01-01T00:00:00+00:00"))
    assert "expired on" in checks(g_config)["instagram token"].message
    os.chmod(g_config.graph_token_file, 0o644)
    assert "chmod 600" in checks(g_config)["instagram token permissions"].message


@pytest.mark.parametrize("answer, expected", [
    ((404, {"Content-Type": "text/html"}, "<h1>Not Found</h1>"), "HTTP 404 for /staged/"),
    ((200, {"Content-Type": "text/html"}, "<html>login</html>"), "served as text/html; Instagram needs image/jpeg"),
    ((301, {"Location": "https://www.example.com/"}, ""), "redirects (HTTP 301) to https://www.example.com/"),
    ((502, {"Content-Type": "text/html"}, "bad gateway"), "HTTP 502"),
    ((403, {}, "forbidden"), "without credentials"),
    ((200, {"Content-Type": "image/jpeg"}, b"\xff\xd8other"), "not the test photo"),
    (requests.exceptions.SSLError("certificate verify failed"), "TLS certificate is not valid"),
    (requests.exceptions.ConnectionError("Failed to resolve 'pets.example.com' (Name or service not known)"),
     "does not resolve in DNS"),
    (requests.exceptions.ConnectionError("Connection refused"), "nothing answers at pets.example.com"),
    (requests.exceptions.ReadTimeout("read timed out"), "did not answer within 30 s"),
], ids=["404", "html", "redirect", "502", "403", "other-bytes", "tls", "dns", "refused", "timeout"])
def test_doctor_says_exactly_what_is_wrong_with_the_public_url(g_config, g_store, gfake, gtoken, answer, expected):
    proxy(gfake.rsps, g_config, answer)

    url = checks(g_config)["public url"]

    assert not url.ok and expected in url.message, url.message
    assert not any(staging_dir(g_config).iterdir())


def test_staged_photos_are_served_only_by_their_exact_name_and_only_for_their_minutes(g_config, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8photo")
    staged = stage(g_config, photo)
    name = staged.path.name

    assert staged.url == f"{PUBLIC}/{name}" and len(name) == 47
    assert resolve(g_config, f"/{name}") == staged.path
    for bad in ("/", "/../pawpost.db", f"/{name[:-4]}.png", f"/sub/{name}", "/" + "a" * 43 + ".jpg"):
        assert resolve(g_config, bad) is None, bad
    assert stage(g_config, photo).url != staged.url  # one URL per publish
    later = time.time() + STAGE_MINUTES * 60 + 1
    assert resolve(g_config, f"/{name}", now=later) is None
    assert sweep(g_config, now=later) == 2 and not staged.path.exists()
    unstage(staged)  # already gone: no error



def test_pawpost_doctor_runs_the_graph_checks_and_guards_the_app_secret(g_config, g_store, gfake, gtoken):
    from bot.doctor import run_checks

    proxy(gfake.rsps, g_config)
    secret = g_config.paths.data.parent / "app-secret"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o644)
    g_config.graph.app_secret_file = secret

    found = {c.name: c for c in run_checks(g_config)}

    assert found["public url"].ok and found["instagram account"].ok and found["instagram publishing"].ok
    assert "chmod 640" in found["graph.app_secret_file permissions"].message
