"""The review site behind (or without) a reverse proxy, served by uvicorn as `pawpost web` serves it: forwarded
headers count only from web.trusted_proxies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import load_config
from bot.store.database import Store
from bot.web.auth import COOKIE, new_login_token
from bot.web.server import WebThread
from tests.bot.web.conftest import free_port
from tests.conftest import write_config


def _served(root: Path, trusted: list[str]) -> Iterator[tuple[str, Any]]:
    port = free_port()
    web = {"listen": f"127.0.0.1:{port}", "require_login": True}
    if trusted:
        web["trusted_proxies"] = trusted
    config = load_config(write_config(root, {"web": web}))
    site = WebThread(config).start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/login", timeout=2)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the site did not start"
            time.sleep(0.1)
    try:
        yield base, config
    finally:
        site.stop()


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    yield from _served(tmp_path / "a", [])


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    yield from _served(tmp_path / "b", ["127.0.0.1"])


def test_a_local_client_cannot_dodge_the_login_limit_with_forwarded_for(untrusted) -> None:
    base, _ = untrusted
    codes = [httpx.post(f"{base}/login", data={"token": "guess"}, headers={"X-Forwarded-For": f"10.0.0.{n}"},
                        timeout=10).status_code for n in range(7)]

    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]


def test_a_trusted_proxys_https_makes_the_cookie_secure_and_its_client_counts(behind_proxy) -> None:
    base, config = behind_proxy
    with Store.for_config(config) as store:
        token = new_login_token(store)

    done = httpx.post(f"{base}/login", data={"token": token}, timeout=10,
                      headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})

    assert done.status_code == 303
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "Secure" in cookie
    # The proxy's clients are told apart by the address it forwards: one client's failures do not block another.
    for _ in range(5):
        httpx.post(f"{base}/login", data={"token": "guess"}, headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert httpx.post(f"{base}/login", data={"token": "guess"}, headers={"X-Forwarded-For": "198.51.100.1"},
                      timeout=10).status_code == 429
    assert httpx.post(f"{base}/login", data={"token": "guess"}, headers={"X-Forwarded-For": "198.51.100.2"},
                      timeout=10).status_code == 403
