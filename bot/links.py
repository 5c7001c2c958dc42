"""Every absolute link pawpost sends or prints (notifications, `pawpost web --url`, the notify publisher's message,
the terminal's "open it at ..."): one builder, so they all point at the same address.

[web] public_url when it is set (a Tailscale or reverse-proxy address a phone can open); otherwise the address the
review site listens on. A site listening on every interface is named by a host name only when it is a full name
that resolves, else by this machine's network address: a bare host name does not resolve on a phone.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

# Sentence for the owner when links point at an address a phone may not open.
PHONE_HINT = ("to open links from your phone, set [web] public_url to the address it reaches the site by "
              "(README: Reach it from your phone)")


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolves_elsewhere(name: str) -> bool:
    """Whether `name` resolves here to an address that is not this machine's loopback."""
    try:
        found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in found)


def _network_address(ipv6: bool) -> str | None:
    """The address this machine is reached by on its network: the source address of a route outwards (a UDP
    socket's connect sends nothing)."""
    family, probe = (socket.AF_INET6, "2001:db8::1") if ipv6 else (socket.AF_INET, "192.0.2.1")
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


def machine_host(ipv6: bool = False) -> str:
    """This machine's name for links when the site listens on every interface: its full host name when that
    resolves to a network address, else that address; loopback only when there is no network at all."""
    name = socket.getfqdn()
    if "." in name and not name.endswith(".localdomain") and _resolves_elsewhere(name):
        return name
    return _network_address(ipv6) or _network_address(not ipv6) or ("::1" if ipv6 else "127.0.0.1")


def site_url(config: Any) -> str:
    """The review site's address, without a trailing slash."""
    if config.web.public_url:
        return str(config.web.public_url).rstrip("/")
    host, port = split_listen(config.web.listen)
    if host in ("0.0.0.0", "::", ""):
        host = machine_host(ipv6=host == "::")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def link(config: Any, path: str = "/") -> str:
    """An absolute link to a page of the review site (`path` starts with '/')."""
    if not path.startswith("/"):
        raise ValueError(f"a site path starts with '/': {path!r}")
    return site_url(config) + path


def draft_link(config: Any, draft_id: int) -> str:
    """A draft's card on the review site."""
    return link(config, f"/drafts/{int(draft_id)}")


def confirm_link(config: Any, draft_id: int, token: str) -> str:
    """A draft's single-use "I posted it" link (bot.publish.confirm_links makes the token)."""
    return link(config, f"/drafts/{int(draft_id)}/confirm?token={token}")


def reachable(config: Any) -> bool:
    """Whether the site's links can be opened from another device (a public_url, or a listen beyond loopback)."""
    return bool(config.web.public_url) or not is_loopback(split_listen(config.web.listen)[0])


def phone_hint(config: Any) -> str:
    """PHONE_HINT when links point at this machine only (no public_url, a loopback listen), else ''."""
    return "" if reachable(config) else PHONE_HINT
