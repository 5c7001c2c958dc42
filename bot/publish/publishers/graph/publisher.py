"""The official-API publisher (the config calls it graph): Instagram Platform content publishing with Instagram
Login. `PUBLISHER` (at the end) is what the registry knows of it; `GraphPublisher` posts.

One publish: stage each photo at a one-time public URL; a single photo gets a media container (image_url, caption,
alt_text); a carousel gets a child container per photo (is_carousel_item, alt_text), each waited for, then the
CAROUSEL container (children, caption); a Reel stages its video and cover and gets a REELS container (video_url,
cover_url, share_to_feed, caption), which Instagram may take minutes to process (`graph.reel_wait_seconds`).
Every container's id goes to the poster the moment Instagram names it (`on_container`, recorded in the attempt);
containers post nothing, so they are safe to make again. Then wait for status_code FINISHED, `before_create()` and
one media_publish — never resent. Every failure is decided by the one table
(bot.publish.outcome) from `answers`' reading of the answer; the exactly-once bookkeeping (attempts, unsettled
drafts, reconcile) is the poster's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.errors import PawpostError
from bot.publish.base import OnContainer, PreparedPost, PublishedMedia, RecentMedia, post_photos, same_caption
from bot.publish.errors import ErrorKind, PublishError, step_error
from bot.publish.outcome import Evidence, Refusal, Step
from bot.publish.publishers.graph.answers import TOKEN_ADVICE, container_refusal, read_media
from bot.publish.publishers.graph.api import GraphClient, Request
from bot.publish.publishers.graph.doctor import graph_checks
from bot.publish.publishers.graph.token import (
    TokenRecord,
    client_for,
    keep_alive,
    load_token,
    save_token,
    token_notice,
    whoami,
)
from bot.publish.publishers.graph.token import login as token_login
from bot.publish.publishers.registry import Ask, PublisherKind, StatusNotice
from bot.publish.staging import Staged, stage, unstage

log = logging.getLogger(__name__)

# Waits between container status checks (seconds); the last repeats until graph.container_wait_seconds.
POLL_SECONDS = (2, 3, 5, 10, 15, 30, 60)
NO_TOKEN_ADVICE = "run 'pawpost login' with a token from the Meta app dashboard (README, 'Which publisher?')"
# The media list's media_type as RecentMedia.kind (a Reel is a VIDEO whose media_product_type is REELS).
_KINDS = {"IMAGE": "photo", "CAROUSEL_ALBUM": "carousel", "VIDEO": "video"}


def poll_delays(wait_seconds: float) -> list[float]:
    """The sleeps between status checks: POLL_SECONDS, its last value repeated, adding up to `wait_seconds`."""
    delays: list[float] = []
    while sum(delays) < wait_seconds:
        delays.append(float(POLL_SECONDS[min(len(delays), len(POLL_SECONDS) - 1)]))
    return delays


class GraphPublisher:
    name = "graph"
    posts_by_hand = False

    def __init__(self, config: Config, store: Any, *, session: Any = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.config = config
        self.store = store
        self.session = session
        self.sleep = time.sleep if sleep is None else sleep
        self._client: GraphClient | None = None
        self._record: TokenRecord | None = None

    # -- the token and the account --------------------------------------------------------------------

    def account(self) -> tuple[GraphClient, TokenRecord]:
        """A client with the saved token, and the account's user id (learned from the token when not saved)."""
        path = self.config.graph_token_file
        try:
            record = load_token(path)
        except PawpostError as exc:
            raise PublishError(ErrorKind.FATAL, str(exc), error_class="NoToken", advice=NO_TOKEN_ADVICE) from None
        if record is None:
            raise PublishError(ErrorKind.FATAL, f"no Instagram access token in {path}", error_class="NoToken",
                               advice=NO_TOKEN_ADVICE)
        if self._client is None or self._client.token != record.access_token:
            if self._client is not None:
                self._client.close()
            self._client = client_for(self.config, record.access_token, self.session)
        if not record.user_id:
            me = whoami(self.config, record.access_token, self.session)
            record.user_id = str(me.get("user_id") or me.get("id") or "")
            record.username = str(me.get("username") or "")
            record.account_type = str(me.get("account_type") or "")
            if not record.user_id:
                raise PublishError(ErrorKind.FATAL, "Instagram did not say which account the token belongs to",
                                   error_class="NoUserId", advice=TOKEN_ADVICE)
            save_token(path, record)
        self._record = record
        return self._client, record

    def maintain(self, now: datetime) -> None:
        """Called at every poster tick: renew the token when it is due (never raises)."""
        keep_alive(self.config, self.store, now, self.session)

    # -- publishing ----------------------------------------------------------------------------------

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> PublishedMedia:
        photos = post_photos(post)
        client, record = self.account()
        what = "a Reel" if post.is_reel else f"{len(photos)} photo(s)"
        log.info("publishing draft %s through the official API (attempt %s, %s)", post.draft_id, post.nonce[:8], what)
        staged: list[Staged] = []
        wait = self.config.graph.container_wait_seconds
        try:
            files = [photos[0].path, photos[0].cover] if post.is_reel else [photo.path for photo in photos]
            staged.extend(stage(self.config, path) for path in files if path is not None)
            if self.config.graph.stage_delay_seconds:
                self.sleep(self.config.graph.stage_delay_seconds)  # the owner's sync to a static host
            if post.is_reel:
                # Shared to the feed too: the account's grid shows it, and the media list that reconcile reads has it.
                container = self._create(client, record, media_type="REELS", video_url=staged[0].url,
                                         cover_url=staged[1].url if len(staged) > 1 else None, share_to_feed="true",
                                         caption=post.caption)
                wait = self.config.graph.reel_wait_seconds
            elif len(photos) == 1:
                container = self._create(client, record, image_url=staged[0].url, caption=post.caption,
                                         alt_text=photos[0].alt_text or None)
            else:
                children = []
                for position, (photo, item) in enumerate(zip(photos, staged, strict=True)):
                    child = self._create(client, record, image_url=item.url, is_carousel_item="true",
                                         alt_text=photo.alt_text or None)
                    if on_container is not None:
                        on_container(child, position)
                    children.append(child)
                for child in children:
                    self._wait(client, child, before_create, wait)
                container = self._create(client, record, media_type="CAROUSEL", children=",".join(children),
                                         caption=post.caption)
            if on_container is not None:
                on_container(container)  # recorded before media_publish: the attempt names it whatever happens
            self._wait(client, container, before_create, wait, "video" if post.is_reel else "photo")
            if before_create is not None:
                before_create()  # from the next request on, the post may exist even if we never hear back
            # The one request that makes the post: never repeated here, whatever its answer.
            answer = client.post(f"{record.user_id}/media_publish", Request.PUBLISH, creation_id=container)
        finally:
            for item in staged:
                unstage(item)
        media_id = answer.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise step_error(Step.CREATE, Evidence(sent=True), None, error_class="NoMediaInAnswer",
                             message="media_publish answered without a media id")
        return self._published(client, str(media_id))

    def _create(self, client: GraphClient, record: TokenRecord, **params: Any) -> str:
        answer = client.post(f"{record.user_id}/media", Request.CONTAINER, **params)
        container = answer.get("id")
        if not isinstance(container, str | int) or not str(container):
            # No container, no post: a later tick simply creates another one.
            raise step_error(Step.UPLOAD, Evidence(sent=True), None, error_class="NoContainerInAnswer",
                             message="creating the media container answered without an id")
        return str(container)

    def _wait(self, client: GraphClient, container: str, before_create: Callable[[], None] | None,
              wait_seconds: float, what: str = "photo") -> None:
        """Until the container is FINISHED: ERROR or EXPIRED, or still IN_PROGRESS after `wait_seconds`, is a failed
        upload (nothing was posted: a later attempt makes a new container, and this one is never published)."""
        delays = poll_delays(wait_seconds)
        for delay in [*delays, None]:
            answer = client.get(container, Request.STATUS, fields="status_code,status")
            code = str(answer.get("status_code") or "")
            if code == "FINISHED":
                return
            if code == "PUBLISHED":
                # Published before pawpost's media_publish: the post exists, by whom only the account can say.
                if before_create is not None:
                    before_create()
                raise step_error(Step.CREATE, Evidence(sent=True), None, error_class="ContainerPublished",
                                 message="the media container was already published")
            if code in ("ERROR", "EXPIRED"):
                refusal = container_refusal(code, str(answer.get("status") or ""), what)
                raise step_error(Step.UPLOAD, Evidence(True, refusal), None,
                                 error_class="ContainerError" if code == "ERROR" else "ContainerExpired")
            if delay is not None:
                self.sleep(delay)
        waited = f"Instagram was still processing the {what} after {wait_seconds:.0f} s (container {container})"
        raise step_error(Step.UPLOAD, Evidence(True, Refusal(ErrorKind.TRANSIENT, waited)), None,
                         error_class="ContainerInProgress")

    def _published(self, client: GraphClient, media_id: str) -> PublishedMedia:
        # The post exists whatever this answers: a failed look-up leaves only the link empty.
        try:
            media = client.get(media_id, Request.READ, fields="id,permalink,shortcode")
        except PublishError as err:
            log.warning("posted media %s, but its link could not be read: %s", media_id, err.label)
            return PublishedMedia(media_id=media_id, code="", url="")
        return read_media(media)[0]

    # -- reading the account -------------------------------------------------------------------------

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        client, record = self.account()
        answer = client.get(f"{record.user_id}/media", Request.READ,
                            fields="id,caption,timestamp,permalink,shortcode,media_type", limit=count)
        items = answer.get("data")
        if not isinstance(items, list):
            # An answer without the list proves nothing: "not posted" must never be read from it.
            raise step_error(Step.READ, Evidence(sent=True), None, error_class="BadFeedAnswer",
                             message="the account's media list answer had no data")
        out = []
        for item in items[:count]:
            if isinstance(item, dict) and item.get("id"):
                published, caption, taken = read_media(item)
                kind = _KINDS.get(str(item.get("media_type") or ""), "")
                out.append(RecentMedia(published.media_id, published.code, caption, taken, published.url, kind))
        return out

    def comment(self, media_id: str, text: str) -> str:
        client, _ = self.account()
        answer = client.post(f"{media_id}/comments", Request.COMMENT, message=text)
        comment_id = answer.get("id")
        if not comment_id:
            raise step_error(Step.COMMENT, Evidence(sent=True), None, error_class="NoCommentInAnswer",
                             message="the comment answer had no id")
        return str(comment_id)

    def find_comment(self, media_id: str, text: str) -> str | None:
        client, record = self.account()
        answer = client.get(f"{media_id}/comments", Request.READ, fields="id,text,username", limit=50)
        for c in answer.get("data") or []:
            if not isinstance(c, dict) or not same_caption(c.get("text"), text):
                continue
            if not record.username or c.get("username") in (None, record.username):
                return str(c.get("id"))
        return None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _login(config: Config, store: Any, ask: Ask) -> str:
    """A token from the Meta app dashboard, exchanged for a long-lived one and saved."""
    token = ask("Instagram user access token (from the Meta app dashboard)", secret=True)
    record, note = token_login(config, store, token)
    until = f", valid until {record.expires_at}" if record.expires_at else ""
    saved = (f"token saved for @{record.username} ({record.account_type.lower() or 'account'}, user id "
             f"{record.user_id}) to {config.graph_token_file} (mode 600){until}; pawpost renews it by itself")
    return "\n".join([*([note] if note else []), saved])


def _history_reader(config: Config, store: Any) -> Any:
    """The account's media list for `history import`, read with the saved token (PawpostError without one)."""
    from bot.publish.publishers.graph.history import GraphHistory

    client, record = GraphPublisher(config, store).account()
    return GraphHistory(client, record.user_id)


def _status_notice(config: Config, store: Any, now: datetime) -> StatusNotice:
    return StatusNotice(act_soon=token_notice(config, store, now))


def _config_problems(config: Config) -> list[str]:
    if not config.graph.public_base_url:
        return ["graph.public_base_url is required when instagram.publisher = 'graph' (the https URL where Instagram "
                "fetches each photo; see the README, 'Which publisher?')"]
    return []


PUBLISHER = PublisherKind(
    name="graph",
    build=GraphPublisher,
    doctor_checks=graph_checks,
    login=_login,
    status_notice=_status_notice,
    config_problems=_config_problems,
    history_reader=_history_reader,
)
