"""The Instagram Platform's HTTP API (graph.instagram.com, Instagram Login): one request, its failure decided.

A failed request becomes `errors.step_error(request.step, evidence, ...)`: graph_answers reads the answer (its error
code and subcode, or the transport error) as `Evidence`, and the one table in bot.publish.outcome decides — so only
`media_publish` (Step.CREATE) can leave a draft unsettled.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Any

from bot.logs import remember_secrets
from bot.publish.errors import PublishError, step_error
from bot.publish.outcome import Evidence, Step
from bot.publish.publishers.graph.answers import GraphError, evidence

__all__ = ["HOST", "GraphClient", "Request"]

log = logging.getLogger(__name__)

HOST = "https://graph.instagram.com"


class Request(StrEnum):
    """What a request does, for the owner's messages; `step` is its row in the outcome table."""

    CONTAINER = "create the media container"
    STATUS = "check the media container"
    PUBLISH = "publish"
    READ = "read from Instagram"
    COMMENT = "add the hashtag comment"
    TOKEN = "renew the access token"

    @property
    def step(self) -> Step:
        # A container cannot make a post (an upload); only media_publish can; status checks and tokens change nothing.
        return {"CONTAINER": Step.UPLOAD, "PUBLISH": Step.CREATE, "COMMENT": Step.COMMENT}.get(self.name, Step.READ)


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

    def get(self, path: str, request: Request, *, versioned: bool = True, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, request, params, versioned=versioned)

    def post(self, path: str, request: Request, **params: Any) -> dict[str, Any]:
        return self.request("POST", path, request, params)

    def request(self, method: str, path: str, request: Request, params: dict[str, Any], *,
                versioned: bool = True) -> dict[str, Any]:
        """The decoded answer (a JSON object without an error), or the `PublishError` the table decides."""
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
            raise transport_error(exc, request, where) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        err = GraphError.parse(response.status_code, body)
        if err is not None:
            log.info("%s: %s", where, err.label)
            raise step_error(request.step, evidence(err=err), None, error_class=f"GraphError{err.code or ''}",
                             message=f"{request} answered: {err.label}")
        if 200 <= response.status_code < 300 and isinstance(body, dict):
            return body
        # No readable answer: a proxy's page, a truncated body, a 5xx without an error object.
        detail = f"HTTP {response.status_code}" + ("" if isinstance(body, dict) else ", not a JSON answer")
        raise step_error(request.step, Evidence(sent=True), None, error_class="UnreadableAnswer",
                         message=f"{request}: Instagram's answer could not be read ({detail})")

    def close(self) -> None:
        self.session.close()


def transport_error(exc: BaseException, request: Request, where: str) -> PublishError:
    """A request that got no answer: not sent when it provably never left, else unknown (the table decides)."""
    found = evidence(exc)
    said = "did not reach Instagram" if not found.sent else "got no answer"
    # The message is ours, without the URL: a GET's URL carries the token.
    return step_error(request.step, found, exc, error_class=type(exc).__name__,
                      message=f"{request}: {where} {said} ({type(exc).__name__}: {_reason(exc)})")


def _reason(exc: BaseException) -> str:
    """The cause without the URL (which carries the token for GETs)."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = type(reason).__name__ if not isinstance(reason, str) else reason
    text = re.sub(r"https?://\S+", "<url>", text)
    return text[:160]
