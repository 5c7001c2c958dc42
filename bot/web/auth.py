"""The review site's locks: the secret in data/ (0600), one-time login links, signed session cookies, CSRF
tokens bound to the session, and a limit on failed logins.

Login links live in the database (the CLI that prints one and the server that accepts it are two processes).
Sessions are signed cookies checked against the database on every request: a logout ends its own session there,
`pawpost web --url --revoke-all` raises the session version so every older cookie ends, and a new secret (delete
data/web-secret) logs every browser out too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.files import write_atomic
from bot.store import keys
from bot.store.database import Store

SECRET_FILE = "web-secret"
COOKIE = "pawpost_session"
LOGIN_LINK_MINUTES = 15

# Failed logins: this many per client within the window, then every try is refused until the window passes.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = 15 * 60.0


def load_secret(data_dir: Path) -> bytes:
    """The site's signing secret, created (random, mode 0600) on first use."""
    path = Path(data_dir) / SECRET_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) >= 32:
            return bytes.fromhex(text)
    except (FileNotFoundError, ValueError):
        pass
    write_atomic(path, (secrets.token_hex(32) + "\n").encode("ascii"), mode=0o600)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_login_token(store: Store, minutes: float = LOGIN_LINK_MINUTES) -> str:
    """A one-time login token; only its hash is stored, with its expiry."""
    token = secrets.token_urlsafe(24)
    expires = timeutil.now() + timedelta(minutes=minutes)
    store.put(keys.WEB_LOGIN.format(_digest(token)), timeutil.iso(expires))
    return token


def use_login_token(store: Store, token: str) -> str | None:
    """Spend a login token: None when it was good (it is gone now), else why not ('unknown' or 'expired')."""
    key = keys.WEB_LOGIN.format(_digest(token))
    with store.tx():
        expires = store.get(key)
        if expires is None:
            return "unknown"
        store.put(key, None)
    if timeutil.parse(expires) <= timeutil.now():
        return "expired"
    return None


def purge_expired_tokens(store: Store) -> None:
    """Forget login links that can no longer be used (each `pawpost web --url` tidies up after earlier ones)."""
    now = timeutil.now()
    for row in store.all("SELECT key FROM kv WHERE key LIKE ?", (keys.WEB_LOGIN.format("%"),)):
        try:
            expired = timeutil.parse(store.get(row["key"])) <= now
        except (TypeError, ValueError):
            expired = True
        if expired:
            store.put(row["key"], None)


def login_link(config: Any, store: Store) -> str:
    """A one-time login link to the review site (`pawpost web --url`): valid LOGIN_LINK_MINUTES, works once."""
    from bot.links import link

    load_secret(config.paths.data)  # made now, so the server and this link agree from the start
    purge_expired_tokens(store)
    return link(config, f"/login?token={new_login_token(store)}")


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: float
    version: int = 0  # the session version it was issued under (ended when the database's is higher)


class Sessions:
    """Signed session cookies: '<expiry>.<version>.<nonce>.<hmac>'. The CSRF token is an HMAC of the session's
    nonce."""

    def __init__(self, secret: bytes, days: float) -> None:
        self.secret = secret
        self.seconds = days * 86400

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None, version: int = 0) -> tuple[str, Session]:
        session = Session(secrets.token_hex(16), (now or time.time()) + self.seconds, version)
        body = f"{int(session.expires)}.{session.version}.{session.nonce}"
        return f"{body}.{self._sign(body)}", session

    def read(self, cookie: str | None, now: float | None = None) -> tuple[Session | None, str]:
        """The session in a cookie, or None and why: 'missing', 'invalid' or 'expired'. Whether the server ended
        it is `session_ended`'s question (it needs the database)."""
        if not cookie:
            return None, "missing"
        parts = cookie.split(".")
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            return None, "invalid"
        body = ".".join(parts[:3])
        if not hmac.compare_digest(self._sign(body), parts[3]):
            return None, "invalid"
        if int(parts[0]) <= (now or time.time()):
            return None, "expired"
        return Session(parts[2], float(parts[0]), int(parts[1])), ""

    def csrf(self, session: Session) -> str:
        return self._sign(f"csrf|{session.nonce}")

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session), str(token))

    def form_token(self, purpose: str) -> str:
        """The token of a form that needs no session (an "I posted it" page): it proves the form is this site's."""
        return self._sign(f"form|{purpose}")

    def check_form_token(self, purpose: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.form_token(purpose), str(token))


def session_version(store: Store) -> int:
    """The version new sessions are issued under; raising it ends every session issued before."""
    return int(store.get(keys.WEB_SESSION_VERSION, 0) or 0)


def session_ended(store: Store, session: Session) -> bool:
    """Whether the server ended this session: it was logged out, or every session was revoked since it began."""
    if session.version != session_version(store):
        return True
    return store.get(keys.WEB_SESSION_ENDED.format(session.nonce)) is not None


def end_session(store: Store, session: Session) -> None:
    """Log one session out for good (its cookie stays refused until it would have expired anyway)."""
    now = timeutil.now()
    with store.tx():
        for row in store.all("SELECT key, value FROM kv WHERE key LIKE ?", (keys.WEB_SESSION_ENDED.format("%"),)):
            try:
                gone = timeutil.parse(json.loads(row["value"])) <= now
            except (TypeError, ValueError):
                gone = True
            if gone:  # past its cookie's own expiry: nothing to remember
                store.put(row["key"], None)
        store.put(keys.WEB_SESSION_ENDED.format(session.nonce),
                  timeutil.iso(datetime.fromtimestamp(session.expires, UTC)))


def end_all_sessions(store: Store) -> int:
    """Every session of the review site ends now (`pawpost web --url --revoke-all`); returns the new version."""
    with store.tx():
        version = session_version(store) + 1
        store.put(keys.WEB_SESSION_VERSION, version)
        store.db.execute("DELETE FROM kv WHERE key LIKE ?", (keys.WEB_SESSION_ENDED.format("%"),))
    return version


class LoginLimiter:
    """Failed login attempts per client address, in memory: a restart forgets them, which costs nothing."""

    def __init__(self, limit: int = MAX_FAILED_LOGINS, window: float = FAILED_LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        fails = self._fails.setdefault(client, deque())
        while fails and fails[0] <= now - self.window:
            fails.popleft()
        return fails

    def blocked(self, client: str, now: float | None = None) -> float:
        """Seconds until `client` may try again (0: it may now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            fails = self._recent(client, now)
            return fails[0] + self.window - now if len(fails) >= self.limit else 0.0

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(client, now).append(now)
