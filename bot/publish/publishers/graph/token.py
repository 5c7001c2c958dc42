"""The official API's access token: `pawpost login` turns a short-lived token into a long-lived one (60 days) and
keeps it in `graph.access_token_file` (mode 0600, written atomically); the daemon renews it long before it runs out,
and `status` says when the owner must act. The account's user id, name and type are learned from the token itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.errors import PawpostError
from bot.files import write_atomic
from bot.logs import remember_secrets
from bot.publish.errors import ErrorKind, PublishError
from bot.publish.publishers.graph.api import GraphClient, Request
from bot.store import keys

log = logging.getLogger(__name__)

TOKEN_MODE = 0o600
# Instagram renews only a token at least a day old; pawpost renews once 10 of its 60 days are gone, and retries
# hourly when renewing fails, so weeks of failures pass before the owner must act.
REFRESH_MIN_AGE = timedelta(days=1)
REFRESH_WHEN_LEFT = timedelta(days=50)
RETRY_REFRESH_AFTER = timedelta(hours=1)
WARN_WHEN_LEFT = timedelta(days=14)
PROFESSIONAL = ("BUSINESS", "MEDIA_CREATOR")


@dataclass
class TokenRecord:
    """What the token file holds (JSON). A file holding only a token (written by hand) is read as one too."""

    access_token: str
    user_id: str = ""
    username: str = ""
    account_type: str = ""
    issued_at: str | None = None  # when this token value was obtained (exchanged or renewed)
    expires_at: str | None = None  # None: not known (a token given as is, until its first renewal)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def expires(self) -> datetime | None:
        return timeutil.parse(self.expires_at)


def load_token(path: Path) -> TokenRecord | None:
    """The saved token, or None when there is none; PawpostError when the file cannot be used."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PawpostError(f"graph.access_token_file: cannot read {path}: {exc.strerror}") from None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("access_token"), str) and data["access_token"]:
        fields = {k: data[k] for k in TokenRecord.__dataclass_fields__ if k in data}
        record = TokenRecord(**fields)
    elif data is None and len(text.split()) == 1:
        record = TokenRecord(access_token=text)
    else:
        raise PawpostError(f"graph.access_token_file: {path} holds no access token; run 'pawpost login'")
    remember_secrets(record.access_token)
    return record


def save_token(path: Path, record: TokenRecord) -> None:
    write_atomic(path, (json.dumps(record.to_json(), indent=2) + "\n").encode("utf-8"), mode=TOKEN_MODE)


def client_for(config: Any, token: str, session: Any = None) -> GraphClient:
    return GraphClient(token, version=config.graph.api_version, timeout=config.instagram.request_timeout,
                       session=session)


def _with_expiry(record: TokenRecord, answer: dict[str, Any], now: datetime) -> TokenRecord:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise PublishError(ErrorKind.TRANSIENT, "Instagram's token answer held no access_token",
                           error_class="BadTokenAnswer")
    remember_secrets(token)
    expires_in = answer.get("expires_in")
    expires = now + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float) else None
    return TokenRecord(token, record.user_id, record.username, record.account_type, timeutil.iso(now),
                       timeutil.iso(expires))


def exchange(config: Any, short_token: str, app_secret: str, now: datetime, session: Any = None) -> TokenRecord:
    """GET /access_token?grant_type=ig_exchange_token: a short-lived token (1 hour) for a long-lived one (60 days)."""
    remember_secrets(app_secret)
    client = client_for(config, short_token, session)
    answer = client.get("access_token", Request.TOKEN, versioned=False, grant_type="ig_exchange_token",
                        client_secret=app_secret)
    return _with_expiry(TokenRecord(short_token), answer, now)


def refresh(config: Any, record: TokenRecord, now: datetime, session: Any = None) -> TokenRecord:
    """GET /refresh_access_token?grant_type=ig_refresh_token: the same token, valid 60 days from now."""
    client = client_for(config, record.access_token, session)
    answer = client.get("refresh_access_token", Request.TOKEN, versioned=False, grant_type="ig_refresh_token")
    return _with_expiry(record, answer, now)


def whoami(config: Any, token: str, session: Any = None) -> dict[str, Any]:
    """GET /me: the professional account's user id (`user_id`), username and account type."""
    return client_for(config, token, session).get("me", Request.READ, fields="user_id,username,account_type")


def login(config: Any, store: Any, short_token: str, *, session: Any = None,
          now: datetime | None = None) -> tuple[TokenRecord, str]:
    """`pawpost login` for the official API: exchange, learn the account, save; returns the record and a note."""
    now = now or timeutil.now()
    short_token = short_token.strip()
    if not short_token:
        raise PawpostError("no access token given; paste the token from the Meta app dashboard")
    remember_secrets(short_token)
    secret = config.graph.secret_app_secret()
    note = ""
    if secret:
        try:
            record = exchange(config, short_token, secret, now, session)
        except PublishError as err:
            if err.kind == ErrorKind.FATAL:
                raise PawpostError(f"Instagram refused the token: {err.message}; {err.advice}") from None
            # A long-lived token (the dashboard's "Generate token" gives one) cannot be exchanged again.
            record = TokenRecord(short_token, issued_at=timeutil.iso(now))
            note = (f"Instagram did not exchange the token ({err.message}); it is kept as given and renewed "
                    "after a day")
    else:
        record = TokenRecord(short_token, issued_at=timeutil.iso(now))
        note = ("no graph.app_secret_file: the token is kept as given; if it is a short-lived one it stops within "
                "an hour (a dashboard-generated token lasts 60 days and is renewed after a day)")
    try:
        me = whoami(config, record.access_token, session)
    except PublishError as err:
        raise PawpostError(f"the token does not work: {err.message}; {err.advice}") from None
    account_type = str(me.get("account_type") or "")
    if account_type and account_type not in PROFESSIONAL:
        raise PawpostError(f"@{me.get('username', '?')} is a {account_type.lower()} account; the official API "
                           "publishes only for Business or Creator accounts: switch it in the Instagram app "
                           "(Settings > Account type), or use another publisher")
    record.user_id = str(me.get("user_id") or me.get("id") or "")
    record.username = str(me.get("username") or "")
    record.account_type = account_type
    if not record.user_id:
        raise PawpostError("Instagram did not say which account the token belongs to; make a new token")
    path = config.graph_token_file
    save_token(path, record)
    from bot.publish.gate import resume

    resume(store)
    store.put(keys.GRAPH_TOKEN_ERROR, None)
    store.event("instagram.login", f"official API token saved for @{record.username}")
    return record, note


def refresh_due(record: TokenRecord, now: datetime) -> bool:
    issued = timeutil.parse(record.issued_at)
    if issued is not None and now - issued < REFRESH_MIN_AGE:
        return False
    expires = record.expires
    return expires is None or expires - now <= REFRESH_WHEN_LEFT


def keep_alive(config: Any, store: Any, now: datetime | None = None, session: Any = None) -> TokenRecord | None:
    """Renew the saved token when it is due (at most hourly attempts); never raises. Returns the renewed record."""
    now = now or timeutil.now()
    path = config.graph_token_file
    try:
        record = load_token(path)
    except PawpostError as exc:
        store.put(keys.GRAPH_TOKEN_ERROR, str(exc))
        return None
    if record is None or not refresh_due(record, now):
        return None
    tried = timeutil.parse(store.get(keys.GRAPH_TOKEN_TRIED))
    if tried is not None and timedelta(0) <= now - tried < RETRY_REFRESH_AFTER:
        return None
    store.put(keys.GRAPH_TOKEN_TRIED, timeutil.iso(now))
    try:
        renewed = refresh(config, record, now, session)
        save_token(path, renewed)
    except (PublishError, OSError) as exc:
        message = exc.label if isinstance(exc, PublishError) else f"cannot write {path}: {exc}"
        store.put(keys.GRAPH_TOKEN_ERROR, message)
        fatal = isinstance(exc, PublishError) and exc.kind == ErrorKind.FATAL
        store.event("graph.token", f"renewing the Instagram access token failed: {message}",
                    level="error" if fatal else "warning")
        return None
    except Exception:  # a bug must not stop the poster's tick; it is in the log with its traceback
        log.exception("renewing the Instagram access token failed")
        return None
    store.put(keys.GRAPH_TOKEN_ERROR, None)
    store.event("graph.token", f"Instagram access token renewed; valid until {renewed.expires_at or 'unknown'}")
    return renewed


def token_notice(config: Any, store: Any, now: datetime | None = None) -> str | None:
    """One sentence for `status` when the owner must act on the token, else None."""
    now = now or timeutil.now()
    try:
        record = load_token(config.graph_token_file)
    except PawpostError as exc:
        return str(exc)
    if record is None:
        return "no Instagram access token: run 'pawpost login' (README, 'Which publisher?')"
    expires = record.expires
    zone = config.schedule.zone
    error = store.get(keys.GRAPH_TOKEN_ERROR) if store is not None else None
    if expires is not None and expires <= now:
        return (f"the Instagram access token expired on {timeutil.local(expires, zone)}: make a new one in the Meta "
                "app dashboard and run 'pawpost login'")
    if error and ("code 190" in error or "code 102" in error):
        return f"Instagram no longer accepts the access token ({error}): run 'pawpost login' with a new token"
    if expires is not None and expires - now <= WARN_WHEN_LEFT:
        why = f" and renewing it fails ({error})" if error else ""
        return (f"the Instagram access token expires on {timeutil.local(expires, zone)}{why}: run 'pawpost login' "
                "with a new token before then")
    return None
