"""The Instagram Platform's HTTP API (graph.instagram.com, Instagram Login): one request, its answer classified.

Every failure becomes a `PublishError` by the exactly-once rule (shared/ARCHITECTURE.md): not sent (the request
provably never reached Instagram), refused (a readable Graph error body), or unknown — only for the step that
creates the post (`media_publish`): a read timeout, a dropped connection, a 5xx or 2xx that cannot be read, or an
error body that only says Instagram failed. The error's code and subcode decide its kind, never the status alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.logs import remember_secrets
from bot.publish.errors import ErrorKind, PublishError

log = logging.getLogger(__name__)

HOST = "https://graph.instagram.com"


class Step(StrEnum):
    """What a request does; only PUBLISH makes a post, so only its ambiguous answers are 'unknown'."""

    CREATE = "create the media container"
    STATUS = "check the media container"
    PUBLISH = "publish"
    READ = "read from Instagram"
    COMMENT = "add the hashtag comment"
    TOKEN = "renew the access token"


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
_TOKEN = {102, 190}
_RATE = {4, 17, 32, 613, 80002}
_QUOTA_SUBCODES = {2207042, 2207051}  # the 24-hour publishing limit; "we restrict certain activity"
_RESTRICTED_SUBCODES = {2207050}
_SERVER = {1, 2, -1}  # "an unknown error", "service temporarily unavailable", "Instagram server error"
_RETRY_SUBCODES = {
    2207001,  # Instagram server error
    2207003,  # downloading the media took too long
    2207006, 2207008,  # the container was not found (expired or never finished): a new one next time
    2207020,  # the container expired
    2207027,  # 9007: the media is not ready for publishing yet
    2207032, 2207053,  # creating the media failed, try again
}
_FETCH_SUBCODES = {2207052}  # 9004: the media could not be fetched from the URI
_MEDIA_CODES = {352, 9004, 9007, 36000, 36001, 36002, 36003, 36004}


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


def error_kind(code: int | None, subcode: int | None) -> tuple[ErrorKind, str]:
    """The kind of a refusal from its code and subcode (also used for a container's ERROR status)."""
    if code in _TOKEN:
        return ErrorKind.FATAL, TOKEN_ADVICE
    if code == 10 or (code is not None and 200 <= code <= 299):
        return ErrorKind.FATAL, PERMISSION_ADVICE
    if subcode in _RESTRICTED_SUBCODES:
        return ErrorKind.FATAL, RESTRICTED_ADVICE
    if code in _RATE or code == 9 or subcode in _QUOTA_SUBCODES:
        return ErrorKind.COOLDOWN, ""
    if subcode in _FETCH_SUBCODES or (code == 9004 and subcode is None):
        return ErrorKind.TRANSIENT, FETCH_ADVICE
    if subcode in _RETRY_SUBCODES or code in _SERVER or code == -2 or (code == 9007 and subcode is None):
        return ErrorKind.TRANSIENT, ""
    if (subcode is not None and 2207000 <= subcode <= 2207999) or code in _MEDIA_CODES:
        # Instagram looked at this photo or caption and said no (size, format, ratio, caption): it will not change.
        return ErrorKind.BAD_CONTENT, ""
    return ErrorKind.TRANSIENT, ""


def _says_only_failed(err: GraphError) -> bool:
    """An error body that only says Instagram failed: for media_publish it does not prove nothing was posted."""
    if err.subcode is not None:
        return err.subcode == 2207001
    return err.code in _SERVER or err.code is None


def refusal(err: GraphError, step: Step) -> PublishError:
    kind, advice = error_kind(err.code, err.subcode)
    maybe = step == Step.PUBLISH and _says_only_failed(err)
    if maybe:
        kind, advice = ErrorKind.TRANSIENT, ""
    return PublishError(kind, f"{step} answered: {err.label}", error_class=f"GraphError{err.code or ''}",
                        maybe_posted=maybe, advice=advice)


class GraphClient:
    """Requests to graph.instagram.com with real timeouts and no automatic resend (a resent publish is a post)."""

    def __init__(self, token: str, *, version: str, timeout: float = 60.0, session: Any = None) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.token = token
        self.version = version
        self.timeout = (min(10.0, timeout), timeout)
        remember_secrets(token)  # never in a log line, a stored error or a status message
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=Retry(0, read=False, redirect=0, status=0, raise_on_status=False))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session

    def url(self, path: str, *, versioned: bool = True) -> str:
        path = path.lstrip("/")
        return f"{HOST}/{self.version}/{path}" if versioned else f"{HOST}/{path}"

    def get(self, path: str, step: Step, *, versioned: bool = True, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, step, params, versioned=versioned)

    def post(self, path: str, step: Step, **params: Any) -> dict[str, Any]:
        return self.request("POST", path, step, params)

    def request(self, method: str, path: str, step: Step, params: dict[str, Any], *,
                versioned: bool = True) -> dict[str, Any]:
        """The decoded answer (a JSON object without an error), or a classified PublishError."""
        import requests

        params = {k: v for k, v in params.items() if v is not None}
        params.setdefault("access_token", self.token)
        url = self.url(path, versioned=versioned)
        where = f"{method} /{path.lstrip('/')}"
        try:
            if method == "GET":
                response = self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            else:
                # The token travels in the body, not the URL: URLs end up in proxies' logs and exception texts.
                response = self.session.post(url, data=params, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise transport_error(exc, step, where) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        err = GraphError.parse(response.status_code, body)
        if err is not None:
            log.info("%s: %s", where, err.label)
            raise refusal(err, step)
        if 200 <= response.status_code < 300 and isinstance(body, dict):
            return body
        # No readable answer: a proxy's page, a truncated body, a 5xx without an error object.
        detail = f"HTTP {response.status_code}" + ("" if isinstance(body, dict) else ", not a JSON answer")
        raise PublishError(ErrorKind.TRANSIENT, f"{step}: Instagram's answer could not be read ({detail})",
                           error_class="UnreadableAnswer", maybe_posted=step == Step.PUBLISH)

    def close(self) -> None:
        self.session.close()


def transport_error(exc: BaseException, step: Step, where: str) -> PublishError:
    """A request that got no answer: 'not sent' when it provably never reached Instagram, else unknown."""
    name = type(exc).__name__
    if _never_sent(exc):
        return PublishError(ErrorKind.TRANSIENT, f"{step}: {where} did not reach Instagram ({name}: "
                            f"{_reason(exc)})", error_class=name)
    # It reached Instagram, or may have: for media_publish the post may exist; for anything else, retry later.
    return PublishError(ErrorKind.TRANSIENT, f"{step}: no answer to {where} ({name}: {_reason(exc)})",
                        error_class=name, maybe_posted=step == Step.PUBLISH)


def _never_sent(exc: BaseException) -> bool:
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError
                  | requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return True  # no connection, or the TLS handshake failed before a byte of the request was sent
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(reason, NewConnectionError | NameResolutionError)
    return False


def _reason(exc: BaseException) -> str:
    """The cause without the URL (which carries the token for GETs)."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = type(reason).__name__ if not isinstance(reason, str) else reason
    text = re.sub(r"https?://\S+", "<url>", text)
    return text[:160]
