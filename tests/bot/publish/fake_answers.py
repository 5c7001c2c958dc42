"""The scripted answers of the fake Instagram (tests/bot/publish/fake_instagram.py): what a request meets instead of
the fake's normal answer, and the exceptions requests raises before and after a request is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests


class Timeout:
    """A scripted answer: the request reaches Instagram (and takes effect when `lands`), the answer is lost."""

    def __init__(self, lands: bool) -> None:
        self.lands = lands


class Unreadable:
    """A scripted answer: the request takes effect (when `lands`), the 200 answer is not JSON (a proxy's page)."""

    def __init__(self, lands: bool) -> None:
        self.lands = lands


class Answer:
    """A scripted answer: any status and body (a dict is sent as JSON); `lands`: the request takes effect first."""

    def __init__(self, status: int, body: Any = "", *, lands: bool = False,
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.lands, self.headers = status, body, lands, headers or {}


class NotSent:
    """A scripted failure before the request leaves the client: `how` is dns, refused, tls or connect_timeout."""

    def __init__(self, how: str = "refused") -> None:
        self.how = how


class Lost:
    """A scripted failure after the request was sent (and took effect when `lands`): the answer never comes.
    `how`: timeout (read timeout) or reset (connection reset while reading the answer)."""

    def __init__(self, how: str = "timeout", *, lands: bool = True) -> None:
        self.how, self.lands = how, lands


class Kill:
    """The request takes effect (when `lands`), the account is saved, then the client process is SIGKILLed."""

    def __init__(self, *, lands: bool = True) -> None:
        self.lands = lands


class Hang:
    """The request takes effect (when `lands`) and the answer waits until `release` exists (a slow Instagram)."""

    def __init__(self, release: Path, *, lands: bool = True, started: Path | None = None) -> None:
        self.release, self.lands, self.started = Path(release), lands, started


def before_send(how: str) -> Exception:
    """The exception requests raises when the connection never got as far as sending the request."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    url = "/api/v1/"
    if how == "dns":
        reason: Exception = NameResolutionError("i.instagram.com", None, OSError("Name or service not known"))
    elif how == "tls":
        reason = Urllib3SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
        return requests.exceptions.SSLError(MaxRetryError(None, url, reason))
    elif how == "connect_timeout":
        reason = ConnectTimeoutError(None, "Connection to i.instagram.com timed out. (connect timeout=10)")
        return requests.exceptions.ConnectTimeout(MaxRetryError(None, url, reason))
    else:
        reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, url, reason))


def after_send(how: str) -> Exception:
    from urllib3.exceptions import ProtocolError

    if how == "reset":
        return requests.exceptions.ConnectionError(
            ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))
    return requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
