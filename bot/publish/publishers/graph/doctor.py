"""`pawpost doctor` for the official API: the token (file, mode, expiry), the account it opens (type, user id), its
permissions and publishing quota, and a test photo fetched through `graph.public_base_url` the way Instagram will.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import timeutil
from bot.check import Check
from bot.errors import PawpostError
from bot.publish.errors import ErrorKind, PublishError
from bot.publish.publishers.graph.api import GraphClient, Request
from bot.publish.publishers.graph.token import PROFESSIONAL, TOKEN_MODE, client_for, load_token, token_notice
from bot.publish.staging import CONTENT_TYPE, FOLDER, MOUNT, stage, staging_dir, unstage


def graph_checks(config: Any, *, session: Any = None, sleep: Callable[[float], None] = time.sleep) -> Iterator[Check]:
    from bot.store.database import Store

    try:
        store = Store.for_config(config)
    except (PawpostError, OSError):
        store = None  # the database check says why; the token's renewal errors are then not shown
    try:
        yield from _token_checks(config, session, store)
    finally:
        if store is not None:
            store.close()
    yield from public_url_checks(config, session=session, sleep=sleep)


def _token_checks(config: Any, session: Any, store: Any) -> Iterator[Check]:
    path = config.graph_token_file
    try:
        record = load_token(path)
    except PawpostError as exc:
        yield Check("instagram token", False, str(exc))
        return
    if record is None:
        yield Check("instagram token", False, f"no access token in {path}: run 'pawpost login' with a token from the "
                    "Meta app dashboard (README, 'Which publisher?')")
        return
    if path.stat().st_mode & 0o077:
        yield Check("instagram token permissions", False, f"{path} holds the access token and other users can read "
                    f"it; run 'chmod {TOKEN_MODE:o} {path}'")
    expires = record.expires
    notice = token_notice(config, store, timeutil.now())
    if notice:
        yield Check("instagram token", False, notice)
    else:
        until = f"valid until {timeutil.local(expires, config.schedule.zone)}" if expires else "expiry not known yet"
        yield Check("instagram token", True, f"{path} ({until}; renewed by the daemon)")
    client = client_for(config, record.access_token, session)
    try:
        yield from _account_checks(config, client)
    finally:
        client.close()


def _account_checks(config: Any, client: GraphClient) -> Iterator[Check]:
    try:
        me = client.get("me", Request.READ, fields="user_id,username,account_type")
    except PublishError as err:
        yield Check("instagram account", False, f"the token does not open the account: {_why(err)}")
        return
    account_type = str(me.get("account_type") or "")
    user_id = str(me.get("user_id") or me.get("id") or "")
    name = f"@{me.get('username') or '?'}"
    if account_type and account_type not in PROFESSIONAL:
        yield Check("instagram account", False, f"{name} is a {account_type.lower()} account; the official API "
                    "publishes only for Business or Creator accounts (switch it in the Instagram app)")
        return
    yield Check("instagram account", True, f"{name}, {account_type.lower() or 'professional'} account, user id "
                f"{user_id}; permission instagram_business_basic granted")
    try:
        answer = client.get(f"{user_id}/content_publishing_limit", Request.READ, fields="quota_usage,config")
    except PublishError as err:
        yield Check("instagram publishing", False, f"cannot read the publishing quota: {_why(err)}")
        return
    data = answer.get("data")
    item = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    used = item.get("quota_usage")
    total = (item.get("config") or {}).get("quota_total") if isinstance(item.get("config"), dict) else None
    hours = ((item.get("config") or {}).get("quota_duration") or 86400) / 3600 if total else 24
    if isinstance(used, int) and isinstance(total, int):
        yield Check("instagram publishing", used < total, f"instagram_business_content_publish granted; {used} of "
                    f"{total} API posts used in the last {hours:.0f} h" + ("" if used < total else
                    ": the quota is spent, posting resumes when it frees"))
    else:
        yield Check("instagram publishing", True, "instagram_business_content_publish granted (quota not reported)",
                    warning=True)
    if config.instagram.hashtags_in_first_comment:
        yield from _comment_check(client, user_id)


def _comment_check(client: GraphClient, user_id: str) -> Iterator[Check]:
    """Hashtag comments need instagram_business_manage_comments: read the comments of the latest post."""
    try:
        media = client.get(f"{user_id}/media", Request.READ, fields="id", limit=1).get("data") or []
        if media:
            client.get(f"{media[0]['id']}/comments", Request.READ, fields="id", limit=1)
    except PublishError as err:
        yield Check("instagram comments", False, f"hashtags_in_first_comment needs instagram_business_manage_comments:"
                    f" {_why(err)}")
        return
    if media:
        yield Check("instagram comments", True, "instagram_business_manage_comments granted (hashtag comments)")
    else:
        yield Check("instagram comments", True, "no post yet to check instagram_business_manage_comments on; the "
                    "first hashtag comment will tell", warning=True)


def _why(err: PublishError) -> str:
    if err.kind == ErrorKind.TRANSIENT:
        return f"{err.message} (check this machine's network, then run 'pawpost doctor' again)"
    return f"{err.message}; {err.advice}"


def public_url_checks(config: Any, *, session: Any = None, sleep: Callable[[float], None] = time.sleep
                      ) -> Iterator[Check]:
    """Stage a test photo and fetch it through graph.public_base_url as Instagram would; say exactly what fails."""
    import requests

    base = config.graph.public_base_url
    if not base:
        yield Check("public url", False, "graph.public_base_url is not set: Instagram fetches each photo from it")
        return
    host = urlsplit(base).netloc
    folder = staging_dir(config)
    tmp = config.paths.data / ".doctor-test.jpg"
    data = _test_jpeg()
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    staged = stage(config, tmp)
    tmp.unlink(missing_ok=True)
    own = session is None
    session = session or requests.Session()
    try:
        delay = config.graph.stage_delay_seconds
        if delay:
            sleep(delay)  # the owner's sync to a static host runs this often
        started = time.monotonic()
        try:
            response = session.get(staged.url, timeout=(10, 30), allow_redirects=False)
        except requests.exceptions.SSLError:
            yield Check("public url", False, f"{host}'s TLS certificate is not valid (self-signed, expired or for "
                        "another name): Instagram refuses it; use a certificate from a public CA (Let's Encrypt)")
            return
        except requests.exceptions.ConnectionError as exc:
            reason = exc.args[0] if exc.args else exc
            text = str(getattr(reason, "reason", reason))
            if "resolve" in text.lower() or "Name or service" in text or "getaddrinfo" in text:
                yield Check("public url", False, f"{host} does not resolve in DNS: check graph.public_base_url "
                            "and the domain's DNS record")
            else:
                yield Check("public url", False, f"nothing answers at {host} (connection refused or reset): is the "
                            "reverse proxy or tunnel running, and port 443 open to the internet?")
            return
        except requests.exceptions.Timeout:
            yield Check("public url", False, f"{host} did not answer within 30 s: a firewall or a stopped tunnel?")
            return
        except requests.RequestException as exc:
            yield Check("public url", False, f"cannot fetch from {host}: {type(exc).__name__}")
            return
        took = (time.monotonic() - started) * 1000
        yield _judge(response, staged.url, data, folder, took)
    finally:
        unstage(staged)
        if own:
            session.close()


def _judge(response: Any, url: str, data: bytes, folder: Path, took_ms: float) -> Check:
    status = response.status_code
    path = urlsplit(url).path
    if 300 <= status < 400:
        return Check("public url", False, f"{url.rsplit('/', 1)[0]}/... redirects (HTTP {status}) to "
                     f"{response.headers.get('Location', '?')}: Instagram needs the photo at the URL itself; set "
                     "graph.public_base_url to the final address")
    if status == 404:
        return Check("public url", False, f"HTTP 404 for {path}: the server does not serve {folder} there. With "
                     f"pawpost's web server, forward {urlsplit(url).path.rsplit('/', 1)[0]}/ to its {MOUNT}/ (and "
                     f"run 'pawpost run' with [web] enabled); with a static host, serve or sync data/{FOLDER}/ "
                     "(and set graph.stage_delay_seconds to the sync interval)")
    if status in (401, 403):
        return Check("public url", False, f"HTTP {status} for {path}: the server asks for a login or refuses; "
                     "Instagram must fetch the photo without credentials")
    if status >= 500:
        return Check("public url", False, f"HTTP {status} for {path}: the proxy reached nothing behind it; is "
                     "pawpost's web server running ('pawpost run' with [web] enabled)?")
    if status != 200:
        return Check("public url", False, f"HTTP {status} for {path}: Instagram needs a plain 200 answer")
    kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if kind != CONTENT_TYPE:
        return Check("public url", False, f"{path} is served as {kind or 'no Content-Type'}; Instagram needs "
                     f"{CONTENT_TYPE}")
    if response.content != data:
        return Check("public url", False, f"{path} answered {len(response.content)} bytes that are not the test "
                     f"photo ({len(data)} bytes): a login page, a cache or another site answers there")
    return Check("public url", True, f"a test photo staged in {folder} was fetched from this machine through "
                 f"{url.rsplit('/', 1)[0]}/ in {took_ms:.0f} ms")


def _test_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (80, 100), (222, 184, 135)).save(buf, "JPEG", quality=80)
    return buf.getvalue()
