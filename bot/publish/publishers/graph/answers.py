"""The official API's answers read as `Evidence` for the table in bot.publish.outcome.

`read_refusal` knows the Graph error bodies that state an action was not done, by code and subcode; `never_sent`
knows the transport errors that happen before a request leaves this machine. Anything else is an unknown outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bot.publish.transport as transport
from bot.publish.base import PublishedMedia
from bot.publish.errors import QUOTA_ADVICE
from bot.publish.outcome import ErrorKind, Evidence, Refusal

TOKEN_ADVICE = ("the Instagram access token expired or was revoked: make a new one in the Meta app dashboard and "
                "run 'pawpost login'")
PERMISSION_ADVICE = ("the access token lacks a permission pawpost needs (instagram_business_basic, "
                     "instagram_business_content_publish, instagram_business_manage_comments for hashtag comments): "
                     "make a new token with them and run 'pawpost login'")
RESTRICTED_ADVICE = ("Instagram restricted this account or marked it inactive: open the Instagram app, resolve it, "
                     "then run 'pawpost login'")
FETCH_ADVICE = ("Instagram could not fetch the photo from graph.public_base_url; run 'pawpost doctor' to see what "
                "is wrong with the public URL; pawpost tries again later")

# Codes from the Graph API's and the Instagram Platform's error references.
_SHORTCODE = re.compile(r"/(?:p|reel|tv)/([A-Za-z0-9_-]+)")
_TOKEN = {102, 190}
_RATE = {4, 17, 32, 613, 80002}
_QUOTA_SUBCODES = {2207042, 2207051}  # the 24-hour publishing limit; "we restrict certain activity"
_RESTRICTED_SUBCODES = {2207050}
_SERVER = {1, 2, -1}  # "an unknown error", "service temporarily unavailable", "Instagram server error"
_SERVER_SUBCODES = {2207001}  # Instagram server error
_RETRY_SUBCODES = {
    2207003,  # downloading the media took too long
    2207006, 2207008,  # the container was not found (expired or never finished): a new one next time
    2207020,  # the container expired
    2207027,  # 9007: the media is not ready for publishing yet
    2207032, 2207053,  # creating the media failed, try again
}
_FETCH_SUBCODES = {2207052}  # 9004: the media could not be fetched from the URI
_MEDIA_CODES = {352, 9004, 9007, 36000, 36001, 36002, 36003, 36004}
_SUBCODE = re.compile(r"\b(2207\d{3})\b")


@dataclass(frozen=True)
class GraphError:
    """A Graph API error object: {"error": {"message", "type", "code", "error_subcode", ...}}."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    user_message: str = ""
    is_transient: bool = False

    @classmethod
    def parse(cls, status: int, body: Any) -> GraphError | None:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not (error.get("message") or error.get("code") is not None):
            return None
        return cls(status, _int(error.get("code")), _int(error.get("error_subcode")),
                   str(error.get("message") or ""), str(error.get("error_user_msg") or ""),
                   bool(error.get("is_transient")))

    @property
    def label(self) -> str:
        code = f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "")
        text = self.user_message or self.message
        return f"{text} ({code}, HTTP {self.status})" if text else f"{code}, HTTP {self.status}"


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def says_only_failed(code: int | None, subcode: int | None) -> bool:
    """An error that only says Instagram failed: it proves nothing about what was done (unknown, not refused)."""
    if subcode is not None:
        return subcode in _SERVER_SUBCODES
    return code in _SERVER or code is None


def refusal_kind(code: int | None, subcode: int | None) -> tuple[ErrorKind, str]:
    """What a refusal with this code and subcode means, and what the owner does (also a container's ERROR)."""
    if code in _TOKEN:
        return ErrorKind.FATAL, TOKEN_ADVICE
    if code == 10 or (code is not None and 200 <= code <= 299):
        return ErrorKind.FATAL, PERMISSION_ADVICE
    if subcode in _RESTRICTED_SUBCODES:
        return ErrorKind.FATAL, RESTRICTED_ADVICE
    if subcode in _QUOTA_SUBCODES or (code == 9 and subcode is None):
        return ErrorKind.COOLDOWN, QUOTA_ADVICE
    if code in _RATE or code == 9:
        return ErrorKind.COOLDOWN, ""
    if subcode in _FETCH_SUBCODES or (code == 9004 and subcode is None):
        return ErrorKind.TRANSIENT, FETCH_ADVICE
    if subcode in _RETRY_SUBCODES or code == -2 or (code == 9007 and subcode is None):
        return ErrorKind.TRANSIENT, ""
    if (subcode is not None and 2207000 <= subcode <= 2207999) or code in _MEDIA_CODES:
        # Instagram looked at this photo or caption and said no (size, format, ratio, caption): it will not change.
        return ErrorKind.BAD_CONTENT, ""
    return ErrorKind.TRANSIENT, ""


def read_refusal(err: GraphError | None) -> Refusal | None:
    """A known refusal stated by a Graph error body, or None (no error object, or one that only says 'failed')."""
    if err is None or says_only_failed(err.code, err.subcode):
        return None
    kind, advice = refusal_kind(err.code, err.subcode)
    return Refusal(kind, err.label, advice)


def container_refusal(status_code: str, status: str, what: str = "photo") -> Refusal:
    """A container that will not publish (status_code ERROR or EXPIRED): nothing was posted, the reason says why.
    `what`: the photo, or the video of a Reel."""
    if status_code == "EXPIRED":
        return Refusal(ErrorKind.TRANSIENT, "the media container expired before it was published")
    match = _SUBCODE.search(status)
    subcode = int(match.group(1)) if match else None
    reason = f"Instagram could not process the {what}: {status or 'ERROR'}"
    if subcode is None or says_only_failed(None, subcode):
        # No reason given: Instagram could not process it; a new container is made next time.
        return Refusal(ErrorKind.TRANSIENT, reason)
    kind, advice = refusal_kind(None, subcode)
    return Refusal(kind, reason, advice)


def never_sent(exc: BaseException) -> bool:
    """True when the request never left: a bad URL, no connection, no name, no TLS (the one transport rule)."""
    import requests

    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return True
    return transport.never_sent(exc)


def evidence(exc: BaseException | None = None, err: GraphError | None = None) -> Evidence:
    """What one failed request tells: not sent (transport), or sent with its error body read as a refusal."""
    if exc is not None and never_sent(exc):
        return Evidence(sent=False)
    return Evidence(sent=True, refusal=read_refusal(err))


def read_media(item: dict[str, Any]) -> tuple[PublishedMedia, str, datetime | None]:
    """A media object of the API (id, permalink or shortcode, caption, timestamp): its link, caption and time."""
    permalink = str(item.get("permalink") or "")
    code = str(item.get("shortcode") or "")
    if not code:
        match = _SHORTCODE.search(permalink)
        code = match.group(1) if match else ""
    return (PublishedMedia(media_id=str(item.get("id")), code=code, url=permalink),
            str(item.get("caption") or ""), media_time(item))


def media_time(item: dict[str, Any]) -> datetime | None:
    """A media object's `timestamp` (ISO 8601 with an offset, as '2026-11-20T09:30:00+0000'), or None."""
    text = item.get("timestamp")
    if not isinstance(text, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None
