"""The README's "Reach it from your phone" set-ups, as written there: the Caddyfile is valid for Caddy (`caddy
validate` when caddy is installed, its shape otherwise), the Tailscale command is one `tailscale serve` of the
configured web port, their config snippets load, and the site behind a real Caddy (HTTPS on loopback, with its own
internal certificate) believes the forwarded scheme and client only because the proxy is trusted."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bot.config import load_config
from bot.links import split_listen
from bot.store.database import Store
from bot.web.auth import COOKIE, new_login_token
from bot.web.server import WebThread
from tests.bot.web.conftest import free_port
from tests.conftest import REPO, write_config

CADDY = shutil.which("caddy")
needs_caddy = pytest.mark.skipif(CADDY is None, reason="caddy is not installed (apt install caddy)")


def snippet(name: str) -> str:
    """The fenced block between <!-- phone:NAME --> and <!-- /phone:NAME --> in README.md."""
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- phone:{re.escape(name)} -->\s*```[\w-]*\n(.*?)```\s*<!-- /phone:{re.escape(name)} -->",
                      text, re.S)
    assert found, f"README.md has no phone:{name} snippet"
    return found.group(1)


def example_port() -> int:
    example = tomllib.loads((REPO / "config.example.toml").read_text())
    return split_listen(example["web"]["listen"])[1]


def caddy_env(tmp_path: Path) -> dict[str, str]:
    """Caddy's own files (certificates, autosave) in the test's folder, never the user's."""
    return {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config")}


def site_block(caddyfile: str) -> tuple[str, list[str]]:
    """The Caddyfile's one site: its address and its directives (a structural parse, without caddy)."""
    lines = [line.strip() for line in caddyfile.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[0].endswith("{") and lines[-1] == "}", caddyfile
    assert caddyfile.count("{") == caddyfile.count("}") == 1, "one site block, nothing nested"
    return lines[0].removesuffix("{").strip(), lines[1:-1]


def test_the_caddyfile_proxies_the_configured_port_with_https() -> None:
    address, directives = site_block(snippet("caddyfile"))
    config = tomllib.loads(snippet("caddy-config"))["web"]

    # A bare domain: Caddy serves it over HTTPS with a certificate it gets and renews itself.
    assert re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", address)
    assert config["public_url"] == f"https://{address}"
    assert directives == [f"reverse_proxy {config['listen']}"]
    assert split_listen(config["listen"])[1] == example_port()
    assert set(config["trusted_proxies"]) >= {"127.0.0.1"}


@needs_caddy
def test_caddy_validates_the_readmes_caddyfile(tmp_path) -> None:
    path = tmp_path / "Caddyfile"
    path.write_text(snippet("caddyfile"))

    done = subprocess.run([CADDY, "validate", "--adapter", "caddyfile", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, env=caddy_env(tmp_path))

    assert done.returncode == 0, done.stderr[-2000:]
    assert "Valid configuration" in done.stdout + done.stderr


@needs_caddy
def test_caddy_refuses_a_broken_caddyfile(tmp_path) -> None:
    # The positive control for the test above: validate does tell a broken file apart.
    path = tmp_path / "Caddyfile"
    path.write_text(snippet("caddyfile").replace("reverse_proxy", "reverse_prxy"))

    done = subprocess.run([CADDY, "validate", "--adapter", "caddyfile", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, env=caddy_env(tmp_path))

    assert done.returncode != 0


def test_the_tailscale_command_serves_the_configured_port() -> None:
    (line,) = [ln for ln in snippet("tailscale").splitlines() if ln.strip()]
    argv = shlex.split(line)
    config = tomllib.loads(snippet("tailscale-config"))["web"]

    if argv[0] == "sudo":
        argv = argv[1:]
    assert argv[:2] == ["tailscale", "serve"]
    flags, target = argv[2:-1], argv[-1]
    assert set(flags) <= {"--bg", "--https=443"}, flags  # runs in the background, on the tailnet only (not funnel)
    upstream = urlsplit(target)
    assert upstream.scheme == "http" and upstream.hostname == "127.0.0.1"
    assert upstream.port == split_listen(config["listen"])[1] == example_port()
    assert urlsplit(config["public_url"]).scheme == "https" and config["public_url"].endswith(".ts.net")
    assert set(config["trusted_proxies"]) >= {"127.0.0.1"}


@pytest.mark.parametrize("name", ["tailscale-config", "caddy-config"])
def test_the_config_snippets_load_and_require_a_login(tmp_path, name) -> None:
    from bot.drafts.review import login_required

    web = tomllib.loads(snippet(name))["web"]
    config = load_config(write_config(tmp_path / name, {"web": web}))

    assert config.web.public_url == web["public_url"]
    assert login_required(config)  # a proxy brings other machines in: the login link is always needed


# -- the site behind a real Caddy on loopback ------------------------------------------------------------------

def wait_for(url: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            httpx.get(url, timeout=2, verify=False)
            return
        except httpx.TransportError:
            assert time.monotonic() < end, f"{url} did not answer"
            time.sleep(0.2)


@pytest.fixture
def behind_caddy(tmp_path, request) -> Iterator[tuple[str, Any]]:
    """pawpost on a loopback port, trusting 127.0.0.1 (unless the test says False), behind Caddy's HTTPS on
    another: the README's site block with a loopback address, its internal certificate, and free ports."""
    trusted = getattr(request, "param", True)
    site_port, https_port, http_port = free_port(), free_port(), free_port()
    _, directives = site_block(snippet("caddyfile"))
    body = "\n".join("\t" + d.replace(f":{example_port()}", f":{site_port}") for d in directives)
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(f"{{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n"
                         f"\thttp_port {http_port}\n\thttps_port {https_port}\n}}\n\n"
                         f"localhost:{https_port} {{\n\ttls internal\n{body}\n}}\n")
    web: dict[str, Any] = {"listen": f"127.0.0.1:{site_port}", "require_login": True}
    if trusted:
        web["trusted_proxies"] = ["127.0.0.1"]
    config = load_config(write_config(tmp_path / "home", {"web": web}))
    site = WebThread(config).start()
    caddy = subprocess.Popen([CADDY, "run", "--adapter", "caddyfile", "--config", str(caddyfile)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=caddy_env(tmp_path))
    try:
        wait_for(f"http://127.0.0.1:{site_port}/login")
        wait_for(f"https://localhost:{https_port}/login")
        yield f"https://localhost:{https_port}", config
    finally:
        caddy.terminate()
        caddy.wait(10)
        site.stop()


@needs_caddy
def test_through_caddy_the_cookie_is_secure_and_each_client_counts_alone(behind_caddy) -> None:
    base, config = behind_caddy
    with Store.for_config(config) as store:
        token = new_login_token(store)

    with httpx.Client(base_url=base, verify=False, timeout=20) as client:
        form = client.get(f"/login?token={token}")
        assert form.status_code == 200 and 'action="/login"' in form.text
        done = client.post("/login", data={"token": token})
        # https at Caddy (X-Forwarded-Proto from a trusted proxy) makes the cookie Secure; public_url is empty.
        assert done.status_code == 303 and done.headers["location"] == "/"
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Domain" not in cookie  # bound to the host the phone used, never the upstream's
        queue = client.get("/")
        assert queue.status_code == 200 and "Log out" in queue.text

    # Caddy replaces a client's own X-Forwarded-For with the address it sees: the failed-login limit holds.
    with httpx.Client(base_url=base, verify=False, timeout=20) as client:
        codes = [client.post("/login", data={"token": "guess"}, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
                 for n in range(6)]
    assert codes == [403] * 5 + [429]


@needs_caddy
@pytest.mark.parametrize("behind_caddy", [False], indirect=True)
def test_an_untrusted_proxys_https_is_not_believed(behind_caddy) -> None:
    # The control for the test above: the same Caddy, not in trusted_proxies, and the cookie is not Secure.
    base, config = behind_caddy
    with Store.for_config(config) as store:
        token = new_login_token(store)
    with httpx.Client(base_url=base, verify=False, timeout=20) as client:
        done = client.post("/login", data={"token": token})
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert done.status_code == 303 and "Secure" not in cookie


def test_a_public_url_elsewhere_requires_a_login_even_on_loopback(tmp_path) -> None:
    from bot.drafts.review import login_required

    def config(public_url: str) -> Any:
        return load_config(write_config(tmp_path / str(len(public_url)), {"web": {"public_url": public_url}}))

    assert login_required(config("https://pawpost.example.org"))  # a proxy (or tunnel) brings others in
    assert not login_required(config("http://127.0.0.1:8686"))  # an SSH tunnel's own end: this machine only
    assert not login_required(config(""))
