"""The instagrapi publisher: an upload per photo, then one configure (a carousel: one configure_sidecar) per publish,
never resent; a Reel is the video's and its cover's uploads, then configure_to_clips (`clips`). An expired session
gets one re-login with the saved device. Each step's failure is read by `answers` beside it and decided by the one
table.
`PUBLISHER` (at the end) is what the registry knows of it; `InstagramPublisher` posts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.check import Check
from bot.config import Config
from bot.errors import PawpostError
from bot.publish.base import (
    OnContainer,
    PreparedMedium,
    PreparedPost,
    PublishedMedia,
    RecentMedia,
    post_photos,
    same_caption,
)
from bot.publish.errors import FATAL_ADVICE, ErrorKind, PublishError, classify, step_error
from bot.publish.outcome import Evidence, Outcome, Step
from bot.publish.publishers.instagrapi.answers import evidence
from bot.publish.publishers.instagrapi.clips import configure_clip, upload_clip
from bot.publish.publishers.instagrapi.session import (
    Transport,
    login_error,
    login_interactive,
    make_client,
    save_session,
    session_state,
    totp_code,
    totp_problem,
)
from bot.publish.publishers.registry import Ask, PublisherKind, StatusNotice

__all__ = ["PUBLISHER", "InstagramPublisher", "Transport", "login_interactive", "make_client", "session_state"]

log = logging.getLogger(__name__)


class InstagramPublisher:
    """Publishes through instagrapi, one step at a time; every failed step is decided by bot.publish.outcome."""

    name = "instagrapi"
    posts_by_hand = False

    def __init__(self, config: Config, store: Any, *, transport: Transport | None = None,
                 sleep: Callable[[float], None] | None = None, **client_options: Any) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.sleep = sleep  # the waits for a Reel's transcode (None: time.sleep)
        self.client_options = client_options
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = make_client(self.config, self.store, transport=self.transport, **self.client_options)
            except PawpostError:
                raise
            except Exception as exc:
                raise classify(exc) from None
        return self._client

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> PublishedMedia:
        media = post_photos(post)
        client = self.client()
        what = "a Reel" if post.is_reel else f"{len(media)} photo(s)"
        log.info("publishing draft %s (attempt %s, %s)", post.draft_id, post.nonce[:8], what)
        try:
            return self._publish_once(client, media, post.caption, before_create)
        except PublishError as err:
            if err.kind != ErrorKind.REAUTH or err.outcome != Outcome.REFUSED:
                raise
        # Instagram refused the session (its body says so: nothing was posted): one re-login, then once more.
        self._relogin(client)
        return self._publish_once(client, media, post.caption, before_create)

    def _publish_once(self, client: Any, photos: tuple[PreparedMedium, ...], caption: str,
                      before_create: Callable[[], None] | None) -> PublishedMedia:
        if photos[0].kind == "video":
            # A Reel: the uploads may be redone; configure_to_clips makes the post and is resent only while
            # Instagram answers that its transcode is not finished.
            def run(step: Step, fn: Callable[[], Any]) -> Any:
                return _step(step, client, fn)

            video = photos[0]
            upload_id = upload_clip(client, video, run)
            if before_create is not None:
                before_create()
            configured = configure_clip(client, video, upload_id, caption, run,
                                        wait_seconds=self.config.instagram.reel_wait_seconds,
                                        sleep=time.sleep if self.sleep is None else self.sleep)
        elif len(photos) == 1:
            photo = photos[0]
            upload_id, width, height = _step(Step.UPLOAD, client, lambda: client.photo_rupload(Path(photo.path)))
            # Instagram's "custom accessibility caption" is the alt text of the app's advanced settings.
            extra = {"custom_accessibility_caption": photo.alt_text} if photo.alt_text else {}
            if before_create is not None:
                before_create()  # from the next request on, the post may exist even if we never hear back
            configured = _step(Step.CREATE, client,
                               lambda: client.photo_configure(upload_id, width, height, caption, extra_data=extra))
        else:
            # A carousel, as instagrapi's album_upload makes one but a step at a time: every photo's upload is safe
            # to redo (an upload alone posts nothing); configure_sidecar, which makes the post, is sent once.
            # instagrapi names an upload by the millisecond: each photo gets its own name, however fast they go.
            first_id = int(time.time() * 1000)
            children = [_album_child(client, photo, str(first_id + n)) for n, photo in enumerate(photos)]
            if before_create is not None:
                before_create()
            configured = _step(Step.CREATE, client, lambda: client.album_configure(children, caption))
        media = configured.get("media") if isinstance(configured, dict) else None
        if not isinstance(media, dict) or not (media.get("code") or media.get("id") or media.get("pk")):
            raise step_error(Step.CREATE, Evidence(sent=True), None, error_class="NoMediaInAnswer",
                             message="Instagram answered the post without the media")
        return _published(media)

    def _relogin(self, client: Any) -> None:
        ig = self.config.instagram
        password = ig.secret_password()
        if not password:
            raise PublishError(ErrorKind.FATAL, "Instagram logged pawpost out and no password is configured",
                               error_class="LoginRequired", advice=FATAL_ADVICE["logged_out"])
        log.info("Instagram session expired; logging in again with the saved device")
        code = totp_code(self.config)  # a bad seed stops posting as a configuration error
        try:
            client.login(ig.username, password, relogin=True, verification_code=code)
        except Exception as exc:
            raise login_error(exc, None) from None
        save_session(client, self.config.session_file)

    def _call(self, fn: Callable[[Any], Any], step: Step = Step.READ) -> Any:
        """One step with the one re-login on an expired session (refused with login_required)."""
        client = self.client()
        try:
            return _step(step, client, lambda: fn(client))
        except PublishError as err:
            if err.kind != ErrorKind.REAUTH or err.outcome != Outcome.REFUSED:
                raise
        self._relogin(client)
        return _step(step, client, lambda: fn(client))

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        def fetch(client: Any) -> list[RecentMedia]:
            # Straight to the feed endpoint: instagrapi's user_medias_v1 swallows errors and returns [], which
            # here would read as "not posted" and lead to a second post.
            answer = client.private_request(f"feed/user/{client.user_id}/", params={
                "count": count, "rank_token": client.rank_token, "ranked_content": "true"})
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise PublishError(ErrorKind.TRANSIENT, "Instagram's feed answer had no items",
                                   error_class="BadFeedAnswer", outcome=Outcome.UNKNOWN, step=Step.READ)
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

        return self._call(add, Step.COMMENT)

    def find_comment(self, media_id: str, text: str) -> str | None:
        def find(client: Any) -> str | None:
            for c in client.media_comments(media_id, amount=50):
                if same_caption(c.text, text) and str(c.user.pk) == str(client.user_id):
                    return str(c.pk)
            return None

        return self._call(find)

    def maintain(self, now: datetime) -> None:
        return None

    def close(self) -> None:
        if self._client is not None:
            for name in ("private", "public", "graphql"):
                session = getattr(self._client, name, None)
                if session is not None:
                    session.close()
            self._client = None


def _step(step: Step, client: Any, fn: Callable[[], Any]) -> Any:
    """Run one request-making call; a failure becomes the table's `PublishError` from what the answer shows."""
    # Reset, so that an error with no answer of its own is never read against the previous request's answer.
    client.last_response = None
    client.last_json = {}
    try:
        return fn()
    except PublishError:
        raise
    except Exception as exc:
        raise step_error(step, evidence(exc, client), exc) from None


def _album_child(client: Any, photo: PreparedMedium, upload_id: str) -> dict[str, Any]:
    """Upload one photo of a carousel; its entry in configure_sidecar's children_metadata, with its alt text."""
    from instagrapi.utils.serialization import dumps

    upload_id, width, height = _step(Step.UPLOAD, client, lambda: client.photo_rupload(
        Path(photo.path), upload_id=upload_id, to_album=True))
    child: dict[str, Any] = {
        "upload_id": upload_id,
        "edits": dumps({"crop_original_size": [width, height], "crop_center": [0.0, -0.0], "crop_zoom": 1.0}),
        "extra": dumps({"source_width": width, "source_height": height}),
        "scene_capture_type": "",
        "scene_type": None,
    }
    if photo.alt_text:
        child["custom_accessibility_caption"] = photo.alt_text
    return child


def _is_http_error(exc: BaseException) -> bool:
    from instagrapi.exceptions import ClientError

    return isinstance(exc, ClientError)


def _published(media: dict[str, Any]) -> PublishedMedia:
    code = str(media.get("code") or "")
    media_id = str(media.get("id") or media.get("pk") or "")
    where = "reel" if _kind(media) == "video" else "p"
    url = f"https://www.instagram.com/{where}/{code}/" if code else ""
    return PublishedMedia(media_id=media_id, code=code, url=url)


def _kind(media: dict[str, Any]) -> str:
    """photo, carousel or video from the private API's media_type (1, 8, 2: a Reel is a video, product "clips")."""
    return {1: "photo", 2: "video", 8: "carousel"}.get(media.get("media_type"), "")  # type: ignore[arg-type]


def _recent(item: dict[str, Any]) -> RecentMedia:
    published = _published(item)
    taken = item.get("taken_at")
    return RecentMedia(
        media_id=published.media_id, code=published.code, url=published.url,
        caption=((item.get("caption") or {}).get("text") or "") if isinstance(item.get("caption"), dict) else "",
        taken_at=datetime.fromtimestamp(int(taken), UTC) if isinstance(taken, int | float) else None,
        kind=_kind(item),
    )


def _doctor_checks(config: Config) -> Iterator[Check]:
    """The saved session (present, mode 0600, logged in); no network call."""
    ok, message = session_state(config)
    yield Check("instagram", ok, message)


def _login(config: Config, store: Any, ask: Ask) -> str:
    """Log in (asking for the password if not configured, and a two-factor code) and save the session."""
    username = login_interactive(
        config, store, ask_password=lambda: ask(f"Instagram password for @{config.instagram.username}", secret=True),
        ask_code=lambda prompt: ask(prompt))
    return f"logged in as @{username}; session saved to {config.session_file} (mode 600); posting is on"


def _status_notice(config: Config, store: Any, now: datetime) -> StatusNotice:
    ok, message = session_state(config)
    return StatusNotice(cannot_post=None if ok else message)


def _config_problems(config: Config) -> list[str]:
    if not config.instagram.username:
        return ["instagram: username is required when publisher = 'instagrapi'"]
    problem = totp_problem(config)
    return [problem] if problem else []


def _history_reader(config: Config, store: Any) -> Any:
    from bot.publish.publishers.instagrapi.history import history_reader

    return history_reader(config, store)


PUBLISHER = PublisherKind(
    name="instagrapi",
    build=lambda config, store: InstagramPublisher(config, store),
    doctor_checks=_doctor_checks,
    login=_login,
    status_notice=_status_notice,
    config_problems=_config_problems,
    history_reader=_history_reader,
)
