"""The Instagram session: an instagrapi client with the saved session (mode 0600, same device across logins),
no automatic resends of any POST, real HTTP timeouts, challenge handlers that raise instead of waiting on input().

`make_client(config, store)` is the one way to get a logged-in client (the publisher and history import use it);
`login_interactive` is `pawpost login`. Secrets are masked in instagrapi's own logs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bot.publish.gate as gate
from bot.config import Config
from bot.errors import PawpostError
from bot.files import write_atomic
from bot.logs import quiet, redactor
from bot.logs import remember_secrets as _remember_secrets
from bot.publish.errors import FATAL_ADVICE, ErrorKind, PublishError, classify

log = logging.getLogger(__name__)

SESSION_MODE = 0o600
# instagrapi's own loggers, which log URLs and (at debug level) whole responses: filtered for secrets.
_LIBRARY_LOGGERS = ("pawpost.instagrapi", "instagrapi", "private_request", "public_request", "graphql_request")


# -- logging without secrets -------------------------------------------------------------------------

# The same filter as the daemon's log handler, on instagrapi's loggers themselves, so every handler gets clean lines;
# they are chatty at INFO, so they log warnings only (unless -vvv).
for _name in _LIBRARY_LOGGERS:
    logging.getLogger(_name).addFilter(redactor())
quiet(*_LIBRARY_LOGGERS)


# -- the HTTP transport: a seam in code, not a config key ----------------------------------------------

@dataclass(frozen=True)
class Transport:
    """How the instagrapi client talks HTTP. The owner never chooses it; tests do (`use_transport`)."""

    private: str = "curl"  # instagrapi's private transport: curl (HTTP/2, as the app does), requests, utls
    delay: float | None = None  # instagrapi's pause before each request, seconds (None: instagrapi's own)

    @classmethod
    def requests(cls, delay: float = 0) -> Transport:
        """The plain `requests` transport, which `responses` can answer (tests, the contract suite)."""
        return cls(private="requests", delay=delay)

    def options(self) -> dict[str, Any]:
        return {"private_transport": self.private, **({} if self.delay is None else {"request_timeout": self.delay})}


_transport = [Transport()]


def current_transport() -> Transport:
    return _transport[-1]


@contextmanager
def use_transport(transport: Transport) -> Iterator[Transport]:
    """Every client made inside the block (the CLI's and the daemon's included) uses `transport`."""
    _transport.append(transport)
    try:
        yield transport
    finally:
        _transport.remove(transport)


# -- the client --------------------------------------------------------------------------------------

@functools.cache
def _client_class() -> type:
    from instagrapi import Client
    from instagrapi.exceptions import ClientConnectionError, ClientIncompleteReadError, ClientRequestTimeout
    from urllib3.util.retry import Retry

    class UnansweredPost(ClientConnectionError):
        """A POST whose answer was lost: instagrapi would send it again; pawpost reconciles instead."""

    class PawpostClient(Client):
        http_timeout: float = 60.0

        def _build_private_session_retry_strategy(self) -> Any:
            # Never resend: a configure retried by the transport is a second post.
            return Retry(0, read=False, redirect=0, status=0, raise_on_status=False)

        def _configure_private_session_retry(self, private_transport: Any = None) -> None:
            super()._configure_private_session_retry(private_transport)
            _apply_timeouts(self)

        def _configure_public_session_retry(self) -> None:
            super()._configure_public_session_retry()
            _apply_timeouts(self)

        def _send_private_request(self, endpoint: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._send_private_request(endpoint, data, *args, **kwargs)
            except (ClientRequestTimeout, ClientIncompleteReadError) as exc:
                if data:  # private_request would sleep and POST again
                    raise UnansweredPost(f"{type(exc).__name__} on POST {endpoint}") from exc
                raise

    return PawpostClient


def _apply_timeouts(client: Any) -> None:
    """Give every request of every session a (connect, read) timeout; instagrapi sets none."""
    for name in ("private", "public", "graphql"):
        session = getattr(client, name, None)
        if session is None:
            continue
        for adapter in set(session.adapters.values()):
            if not getattr(adapter, "_pawpost_timeout", False):
                adapter.send = functools.partial(_send_with_timeout, adapter, client)
                adapter._pawpost_timeout = True


def _send_with_timeout(adapter: Any, client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
    if kwargs.get("timeout") is None:
        total = float(getattr(client, "http_timeout", 60.0))
        kwargs["timeout"] = (min(10.0, total), total)
    # Looked up at call time (not bound once), so a test's `responses` patch still sees the call.
    return type(adapter).send(adapter, request, *args, **kwargs)


def _raise_challenge(*_args: Any) -> str:
    from instagrapi.exceptions import ChallengeRequired

    raise ChallengeRequired(FATAL_ADVICE["challenge"])


def _raise_password_change(*_args: Any) -> str:
    from instagrapi.exceptions import ChallengeRequired

    raise ChallengeRequired("Instagram asks for a new password: change it in the Instagram app, update "
                            "instagram.password_file, then run 'pawpost login'")


def load_session(path: Path) -> dict[str, Any] | None:
    """The saved session settings, or None when there is no session file. Tightens a too-open mode to 0600."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077:
        log.warning("the Instagram session file %s was readable by others (mode %o); it is now 0600", path, mode)
        os.chmod(path, SESSION_MODE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PawpostError(f"the Instagram session file {path} cannot be read ({type(exc).__name__}); "
                           "delete it and run 'pawpost login'") from None
    if not isinstance(data, dict):
        raise PawpostError(f"the Instagram session file {path} is not a session; delete it and run 'pawpost login'")
    return data


def save_session(client: Any, path: Path) -> None:
    """Write the session (cookies, device ids) atomically with mode 0600: never half-written, never world-readable."""
    settings = client.get_settings()
    _remember_secrets(client.sessionid, client.authorization)
    write_atomic(path, json.dumps(settings, indent=2).encode("utf-8"), mode=SESSION_MODE)


def totp_problem(config: Config) -> str | None:
    """Why the configured TOTP seed cannot make two-factor codes (it is not base32), or None: a configuration
    error, found before any login rather than met at each one and retried."""
    ig = config.instagram
    try:
        seed = ig.secret_totp_seed()
    except PawpostError:
        return None  # an unreadable file is said where the seed is read
    if not seed:
        return None
    text = "".join(seed.split()).upper()
    try:
        base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        key = "instagram.totp_seed" if ig.totp_seed is not None else "instagram.totp_seed_file"
        return (f"{key}: not a valid two-factor seed (base32: the letters A-Z and the digits 2-7); copy the seed "
                "again from Instagram's two-factor set-up")
    return None


def totp_code(config: Config) -> str:
    """The current two-factor code from the configured TOTP seed, or '' when there is none; a seed that is not
    base32 stops posting (PublishError FATAL) instead of failing every login as if it were the network's fault."""
    problem = totp_problem(config)
    if problem:
        raise PublishError(ErrorKind.FATAL, problem, error_class="BadTotpSeed",
                           advice=f"{problem}, then run 'pawpost login'")
    seed = config.instagram.secret_totp_seed()
    if not seed:
        return ""
    import pyotp

    _remember_secrets(seed)
    return pyotp.TOTP("".join(seed.split())).now()


def make_client(config: Config, store: Any, *, interactive: bool = False,
                ask_code: Callable[[str], str] | None = None, login: bool = True, transport: Transport | None = None,
                **client_options: Any) -> Any:
    """An instagrapi Client with the saved session (device ids kept), logged in when `login` and no session exists.

    Not interactive (daemon, history import): challenges raise, and nothing is tried while posting is stopped.
    `transport` (default: `current_transport()`) and `client_options` go to instagrapi's Client.
    """
    ig = config.instagram
    if not ig.username:
        raise PawpostError("instagram.username is not set: pawpost reaches the account (posting, history import) "
                           "through instagrapi; set instagram.publisher = 'instagrapi' and instagram.username, "
                           "then run 'pawpost login'")
    stopped = gate.stopped(store) if store is not None else None
    if stopped and not interactive:
        raise PublishError(ErrorKind.FATAL, "posting is stopped", error_class="PostingStopped", advice=stopped)
    password = ig.secret_password()
    _remember_secrets(password)
    options = {**(transport or current_transport()).options(), **client_options, "session_retry_total": 0}
    saved = load_session(config.session_file) or {}
    # The saved settings carry transport knobs too, and instagrapi re-applies them on load: ours win.
    transport = {k: options[k] for k in ("private_transport", "request_timeout", "public_transport") if k in options}
    settings = {**saved, **transport, "session_retry_total": 0}
    proxy = ig.proxy.get_secret_value() if ig.proxy else None
    _remember_secrets(proxy)
    try:
        client = _client_class()(settings=settings, proxy=proxy, logger=logging.getLogger("pawpost.instagrapi"),
                                 with_challenge_flow=interactive, **options)
    except (RuntimeError, ValueError) as exc:
        raise PawpostError(f"the Instagram client cannot start: {exc}") from None
    client.http_timeout = ig.request_timeout
    _apply_timeouts(client)
    client.challenge_code_handler = (lambda username, choice=None: ask_code(
        f"Instagram sent a security code ({choice or 'email or SMS'}) for @{username}; enter it: ")
    ) if (interactive and ask_code) else _raise_challenge
    client.change_password_handler = _raise_password_change
    client.username = ig.username
    client.password = password
    _remember_secrets(client.sessionid, client.authorization)
    if login and not client.user_id:
        if not password:
            raise PublishError(ErrorKind.FATAL, "no Instagram session and no password", error_class="NoCredentials",
                               advice=FATAL_ADVICE["no_credentials"])
        code = totp_code(config)  # a bad seed is the config's fault: never classified as a failed login
        try:
            client.login(ig.username, password, verification_code=code)
        except Exception as exc:  # classified for the owner
            raise login_error(exc, store) from None
        save_session(client, config.session_file)
    return client


def login_error(exc: BaseException, store: Any) -> PublishError:
    err = classify(exc)
    if err.kind == ErrorKind.REAUTH:
        err = PublishError(ErrorKind.FATAL, err.message, error_class=err.error_class,
                           advice=FATAL_ADVICE["logged_out"])
    if err.kind == ErrorKind.FATAL and store is not None:
        gate.stop(store, gate.stop_sentence(err.advice, err.error_class), f"Instagram login failed: {err.label}")
    return err


def login_interactive(config: Config, store: Any, *, ask_password: Callable[[], str],
                      ask_code: Callable[[str], str], **client_options: Any) -> str:
    """`pawpost login`: log in (asking for what is not configured), save the session, clear a fatal stop."""
    ig = config.instagram
    if not ig.username:
        raise PawpostError("set instagram.username in the config first")
    password = ig.secret_password() or ask_password()
    if not password:
        raise PawpostError("no password given; nothing was changed")
    _remember_secrets(password)
    client = make_client(config, store, interactive=True, ask_code=ask_code, login=False, **client_options)
    from instagrapi.exceptions import TwoFactorRequired

    code = totp_code(config)
    try:
        try:
            client.login(ig.username, password, verification_code=code)
        except TwoFactorRequired:
            code = ask_code("Instagram asks for a two-factor code (authenticator app or SMS); enter it: ").strip()
            if not code:
                raise PawpostError("no two-factor code given; nothing was changed") from None
            client.login(ig.username, password, verification_code=code)
    except PawpostError:
        raise
    except Exception as exc:  # classified for the owner
        err = classify(exc)
        raise PawpostError(f"Instagram login failed ({err.label}); {err.advice}") from None
    save_session(client, config.session_file)
    if store is not None:
        gate.resume(store)
        store.event("instagram.login", f"logged in to Instagram as @{ig.username}; session saved")
    return ig.username


def session_state(config: Config) -> tuple[bool, str]:
    """(ok, one line) about the saved session, without any network call: for `pawpost doctor`."""
    path = config.session_file
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False, f"no Instagram session at {path}; run 'pawpost login'"
    if mode & 0o077:
        return False, f"{path} has mode {mode:o}; run 'chmod 600 {path}' (it holds the session cookies)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, f"{path} is not a readable session; delete it and run 'pawpost login'"
    auth = data.get("authorization_data") or {} if isinstance(data, dict) else {}
    cookies = data.get("cookies") or {} if isinstance(data, dict) else {}
    if not (auth.get("sessionid") or cookies.get("sessionid")):
        return False, f"{path} holds no logged-in session; run 'pawpost login'"
    saved = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d")
    return True, f"session for @{config.instagram.username} at {path} (mode 600, saved {saved})"
