"""The instagrapi publisher: one upload and one configure per publish, never resent; an expired session gets one
re-login with the saved device. Reconciling reads the account's feed directly, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import PawpostError
from bot.publish.base import PublishedMedia, RecentMedia, same_caption
from bot.publish.errors import FATAL_ADVICE, ErrorKind, PublishError, classify
from bot.publish.session import login_error, login_interactive, make_client, save_session, session_state, totp_code

__all__ = ["InstagramPublisher", "login_interactive", "make_client", "session_state"]

log = logging.getLogger(__name__)


class InstagramPublisher:
    name = "instagrapi"

    def __init__(self, config: Config, store: Any, **client_options: Any) -> None:
        self.config = config
        self.store = store
        self.client_options = client_options
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = make_client(self.config, self.store, **self.client_options)
            except PawpostError:
                raise
            except Exception as exc:
                raise classify(exc) from None
        return self._client

    def publish(self, photo: Path, caption: str, nonce: str, *, draft_id: int | None = None,
                pets: Sequence[str] = (), alt_text: str = "") -> PublishedMedia:
        client = self.client()
        log.info("publishing draft %s (attempt %s)", draft_id, nonce[:8])
        try:
            return self._publish_once(client, photo, caption, alt_text)
        except PublishError as err:
            if err.kind != ErrorKind.REAUTH or err.maybe_posted:
                raise
        # Instagram refused the session (nothing was posted): one re-login with the saved device, then once more.
        self._relogin(client)
        return self._publish_once(client, photo, caption, alt_text)

    def _publish_once(self, client: Any, photo: Path, caption: str, alt_text: str = "") -> PublishedMedia:
        sent = False
        try:
            upload_id, width, height = client.photo_rupload(Path(photo))
            sent = True  # from here on, Instagram may have the post even if we never hear back
            # Instagram's "custom accessibility caption" is the alt text of the app's advanced settings.
            extra = {"custom_accessibility_caption": alt_text} if alt_text else {}
            configured = client.photo_configure(upload_id, width, height, caption, extra_data=extra)
        except Exception as exc:  # classified; ambiguous only if the configure may have landed
            raise classify(exc, maybe_posted=sent and not _refused(exc, client)) from None
        media = configured.get("media") if isinstance(configured, dict) else None
        if not isinstance(media, dict) or not (media.get("code") or media.get("id") or media.get("pk")):
            raise PublishError(ErrorKind.TRANSIENT, "Instagram accepted the post but sent no media back",
                               error_class="NoMediaInAnswer", maybe_posted=True)
        return _published(media)

    def _relogin(self, client: Any) -> None:
        ig = self.config.instagram
        password = ig.secret_password()
        if not password:
            raise PublishError(ErrorKind.FATAL, "Instagram logged pawpost out and no password is configured",
                               error_class="LoginRequired", advice=FATAL_ADVICE["logged_out"])
        log.info("Instagram session expired; logging in again with the saved device")
        try:
            client.login(ig.username, password, relogin=True, verification_code=totp_code(self.config))
        except Exception as exc:
            raise login_error(exc, None) from None
        save_session(client, self.config.session_file)

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        """A read-only call with the one re-login on an expired session."""
        client = self.client()
        try:
            return fn(client)
        except Exception as exc:
            err = classify(exc)
            if err.kind != ErrorKind.REAUTH:
                raise err from None
        self._relogin(client)
        try:
            return fn(client)
        except Exception as exc:
            raise classify(exc) from None

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        def fetch(client: Any) -> list[RecentMedia]:
            # Straight to the feed endpoint: instagrapi's user_medias_v1 swallows errors and returns [], which
            # here would read as "not posted" and lead to a second post.
            answer = client.private_request(f"feed/user/{client.user_id}/", params={
                "count": count, "rank_token": client.rank_token, "ranked_content": "true"})
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise PublishError(ErrorKind.TRANSIENT, "Instagram's feed answer had no items",
                                   error_class="BadFeedAnswer")
            return [_recent(item) for item in answer["items"][:count] if isinstance(item, dict)]

        return self._call(fetch)

    def comment(self, media_id: str, text: str) -> str:
        def add(client: Any) -> str:
            try:
                return str(client.media_comment(media_id, text).pk)
            except Exception as exc:
                # The comment went through but its answer did not parse: take the id from the raw answer.
                pk = ((client.last_json or {}).get("comment") or {}).get("pk")
                if pk and not _is_http_error(exc):
                    return str(pk)
                raise

        return self._call(add)

    def find_comment(self, media_id: str, text: str) -> str | None:
        def find(client: Any) -> str | None:
            for c in client.media_comments(media_id, amount=50):
                if same_caption(c.text, text) and str(c.user.pk) == str(client.user_id):
                    return str(c.pk)
            return None

        return self._call(find)

    def close(self) -> None:
        if self._client is not None:
            for name in ("private", "public", "graphql"):
                session = getattr(self._client, name, None)
                if session is not None:
                    session.close()
            self._client = None


def _refused(exc: BaseException, client: Any) -> bool:
    """Instagram answered the configure with a readable refusal (a 4xx, or a 200 saying 'fail'): nothing was posted."""
    from instagrapi.exceptions import ClientJSONDecodeError

    if isinstance(exc, ClientJSONDecodeError):
        return False  # an unreadable answer (a proxy's or load balancer's page) may hide a post that went through
    # Some errors (FeedbackRequired) carry no response; the client's last_response is reset before each request,
    # so it is the configure's own answer, or None when no answer came back.
    response = getattr(exc, "response", None) or getattr(client, "last_response", None)
    code = getattr(response, "status_code", None)
    if not isinstance(code, int):
        return False
    # A 2xx refuses only when its body was read: last_json is reset before each request and set only when it parses.
    return 400 <= code < 500 or (200 <= code < 300 and bool(getattr(client, "last_json", None)))


def _is_http_error(exc: BaseException) -> bool:
    from instagrapi.exceptions import ClientError

    return isinstance(exc, ClientError)


def _published(media: dict[str, Any]) -> PublishedMedia:
    code = str(media.get("code") or "")
    media_id = str(media.get("id") or media.get("pk") or "")
    return PublishedMedia(media_id=media_id, code=code, url=f"https://www.instagram.com/p/{code}/" if code else "")


def _recent(item: dict[str, Any]) -> RecentMedia:
    published = _published(item)
    taken = item.get("taken_at")
    return RecentMedia(
        media_id=published.media_id, code=published.code, url=published.url,
        caption=((item.get("caption") or {}).get("text") or "") if isinstance(item.get("caption"), dict) else "",
        taken_at=datetime.fromtimestamp(int(taken), UTC) if isinstance(taken, int | float) else None,
    )
