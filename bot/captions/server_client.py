"""The HTTP side of an OpenAI-compatible inference server: list its models, ask for chat completions.

A server is a remote thing that fails: each request has a timeout, a refused connection, a timeout, a 429 or a
5xx is tried again with back-off (models.server_retries), and what still fails is a ServerUnavailable with one
sentence saying why. requests is imported here only, so commands that never talk to a server do not pay for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import ServerUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds to open a connection: a server that is down refuses at once or never answers
BACKOFF_FIRST = 1.0  # seconds before the first retry; doubled for each next one
BACKOFF_MOST = 8.0
BODY_SHOWN = 200  # characters of an error body shown in a reason


@dataclass(frozen=True)
class Choice:
    """One answer of a chat completion: its text, and whether it ran into max_tokens (finish_reason "length")."""

    text: str
    cut_off: bool


class ServerClient:
    """Requests to one server's OpenAI-compatible API (`url` ends in /v1) for one model."""

    def __init__(self, url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 retries: int = 2, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url, self.model = url.rstrip("/"), model
        self.timeout, self.retries, self.sleep = timeout, retries, sleep
        self._api_key = api_key
        self._session: Any = None

    @classmethod
    def from_config(cls, models: Any) -> ServerClient:
        return cls(models.server, models.server_model, api_key=models.server_api_key(),
                   timeout=models.server_timeout_seconds, retries=models.server_retries)

    # -- the API ----------------------------------------------------------------------------------

    def model_ids(self) -> list[str]:
        """The models the server lists (GET /models)."""
        body = self._request("GET", "/models", retries=0)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._unavailable("its /models answer is not an OpenAI-style model list")
        return [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]

    def check_model(self) -> None:
        """Raise ServerUnavailable unless the server answers and lists the configured model."""
        ids = self.model_ids()
        if self.model not in ids:
            listed = ", ".join(repr(i) for i in ids[:8]) or "none"
            raise self._unavailable(f"it has no model {self.model!r} (it lists: {listed}); pull or load it, or fix "
                                    "models.server_model")

    def chat(self, messages: list[dict[str, Any]], *, n: int = 1, temperature: float = 0.7, top_p: float = 0.9,
             max_tokens: int = 60, stop: list[str] | None = None, seed: int | None = None,
             timeout: float | None = None) -> list[Choice]:
        """One chat completion request; every choice's text (a server that ignores `n` returns one)."""
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "n": n, "temperature": temperature,
                                   "top_p": top_p, "max_tokens": max_tokens, "stream": False}
        if stop:
            payload["stop"] = stop
        if seed is not None:
            payload["seed"] = seed
        body = self._request("POST", "/chat/completions", json=payload, timeout=timeout)
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list):
            raise self._unavailable("its answer has no choices (not an OpenAI-style chat completion)")
        out = []
        for choice in choices:
            message = choice.get("message") if isinstance(choice, dict) else None
            text = message.get("content") if isinstance(message, dict) else None
            if isinstance(text, str):
                out.append(Choice(text, cut_off=choice.get("finish_reason") == "length"))
        return out

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- transport --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, json: Any = None, retries: int | None = None,
                 timeout: float | None = None) -> Any:
        """The decoded JSON answer; transient failures are tried again `retries` times with back-off."""
        import requests

        tries = 1 + (self.retries if retries is None else retries)
        reason = ""
        for attempt in range(tries):
            if attempt:
                wait = min(BACKOFF_FIRST * 2 ** (attempt - 1), BACKOFF_MOST)
                log.info("caption server %s: %s; trying again in %.0f s (%d of %d)", self.url, reason, wait,
                         attempt + 1, tries)
                self.sleep(wait)
            try:
                answer = self._http().request(method, self.url + path, json=json, headers=self._headers(),
                                              timeout=(CONNECT_TIMEOUT, timeout or self.timeout))
            except requests.Timeout:
                reason = f"no answer within {timeout or self.timeout:g} s (models.server_timeout_seconds)"
                continue
            except requests.ConnectionError as exc:
                reason = f"no connection ({_connection_reason(exc)})"
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                reason = f"HTTP {answer.status_code}: {_error_text(answer)}"
                continue
            if answer.status_code in (401, 403):
                raise self._unavailable(f"HTTP {answer.status_code}: the server refused the API key; check "
                                        "models.server_api_key_file")
            if answer.status_code == 404 and path != "/models":
                raise self._unavailable(f"HTTP 404: {_error_text(answer)} (is models.server_model loaded there, and "
                                        "does models.server end in /v1?)")
            if answer.status_code >= 400:
                raise self._unavailable(f"HTTP {answer.status_code}: {_error_text(answer)}")
            try:
                return answer.json()
            except ValueError:
                reason = f"HTTP {answer.status_code} with a body that is not JSON"
                continue
        raise self._unavailable(reason)

    def _http(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _unavailable(self, reason: str) -> ServerUnavailable:
        return ServerUnavailable(self.url, self.model, reason)


def _error_text(answer: Any) -> str:
    """The server's own error message (OpenAI's {"error": {"message"}}, FastAPI's {"detail"}), shortened."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        error = body.get("error")
        text = str(error.get("message") if isinstance(error, dict) else error or body.get("detail") or "")
    text = " ".join((text or answer.text or answer.reason or "").split())
    return text[:BODY_SHOWN] or "no error message"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "No route to host", "timed out",
                  "Connection reset", "Remote end closed connection"):
        if known.lower() in text.lower():
            return known.lower()
    return type(exc).__name__
