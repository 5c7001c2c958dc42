"""The by-hand publisher (the config calls it notify; safe mode for any account): pawpost never logs in to Instagram.

At the slot it sends the prepared photos (every one of a carousel, in order; a Reel's video and cover, or a link to
the video when it is too big to attach) and the caption to the owner through [notify] urls (Apprise); the owner posts
it by hand and confirms with `pawpost drafts posted ID [--url URL]` or the draft page's button. Until then the draft
is unsettled, waiting for the owner. A notification that cannot be sent is "not sent": approved again, retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from bot.check import Check
from bot.config import Config
from bot.links import confirm_link, draft_link, phone_hint, reachable
from bot.notifications import Message, Sender
from bot.publish import confirm_links
from bot.publish.base import Handover, OnContainer, PreparedMedium, PreparedPost, RecentMedia, post_photos
from bot.publish.errors import ErrorKind, PublishError, step_error
from bot.publish.outcome import Evidence, Step
from bot.publish.publishers.registry import Ask, PublisherKind
from bot.store.database import Store

CANNOT_READ = ("the notify publisher does not log in to Instagram, so it cannot read the account; confirm a post "
               "with 'pawpost drafts posted ID --url LINK'")


def confirm_hint(config: Config, draft_id: int | None, token: str | None = None) -> str:
    """How the owner confirms a post made by hand: the single-use "I posted it" link `token` makes (when the site
    can be reached from the phone), else the draft's page, and always the command."""
    command = f"pawpost drafts posted {draft_id} --url LINK"
    if draft_id is None or not reachable(config):
        return f"run '{command}'"
    if token:
        return (f"open {confirm_link(config, draft_id, token)} and press 'I posted it' (it works once, for "
                f"{confirm_links.CONFIRM_LINK_DAYS} days; or run '{command}')")
    return f"press 'I posted it' on {draft_link(config, draft_id)} (or run '{command}')"


# The largest video attached to a notification; a bigger one is sent as a link to its draft's page. Notification
# services cap attachments (ntfy.sh's default is 15 MB, e-mail often 25 MB).
ATTACH_MAX_BYTES = 15 * 1024 * 1024


def handover_message(config: Config, draft_id: int | None, caption: str,
                     photos: Sequence[PreparedMedium], token: str | None = None) -> Message:
    """The post handed to the owner: the caption, each photo's alt text, every photo attached in the post's order
    (a Reel: its video, or a link to it, and its cover), and how to confirm it (the "I posted it" link of `token`)."""
    if len(photos) == 1 and photos[0].kind == "video":
        return _reel_message(config, draft_id, caption, photos[0], token)
    lines = [caption, ""]
    several = len(photos) > 1
    for n, photo in enumerate(photos, start=1):
        if photo.alt_text:
            which = f" of photo {n}" if several else ""
            lines.append(f"Alt text{which} (Advanced settings > Accessibility): {photo.alt_text}")
    what = (f"the {len(photos)} attached photos as one carousel, in the order attached," if several
            else "the attached photo")
    lines.append(f"Post {what} with this caption on Instagram, then {confirm_hint(config, draft_id, token)}.")
    if phone_hint(config):
        lines.append(f"({phone_hint(config)})")
    return Message("handover", f"pawpost: time to post draft {draft_id}", "\n".join(lines),
                   attach=tuple(str(photo.path) for photo in photos))


def _reel_message(config: Config, draft_id: int | None, caption: str, video: PreparedMedium,
                  token: str | None) -> Message:
    """A Reel handed over: the video attached when small enough (else a link to the draft's page, which plays it and
    lets it be saved), its cover attached, the caption and the alt text."""
    size = video.path.stat().st_size
    attach = [str(video.path)] if size <= ATTACH_MAX_BYTES else []
    lines = [caption, ""]
    if not attach and draft_id is not None:
        lines.append(f"The video is too big to attach here ({size / 1024 / 1024:.0f} MB): save it from "
                     f"{draft_link(config, draft_id)}")
    if video.cover is not None:
        attach.append(str(video.cover))
        lines.append("Cover: the attached picture (Edit cover > Add from camera roll).")
    if video.alt_text:
        lines.append(f"Alt text (Advanced settings > Accessibility): {video.alt_text}")
    what = "the attached video" if size <= ATTACH_MAX_BYTES else "the video"
    lines.append(f"Post {what} ({video.duration:.0f} s) as a Reel with this caption on Instagram, then "
                 f"{confirm_hint(config, draft_id, token)}.")
    if phone_hint(config):
        lines.append(f"({phone_hint(config)})")
    return Message("handover", f"pawpost: time to post draft {draft_id} (a Reel)", "\n".join(lines),
                   attach=tuple(attach))


class ByHandPublisher:
    """Hands each post to the owner through Apprise; reads nothing from Instagram."""

    name = "notify"
    posts_by_hand = True  # the caption is sent whole: hashtags_in_first_comment does not apply to a hand post

    def __init__(self, config: Config, *, store: Store | None = None, sender: Sender | None = None) -> None:
        self.config = config
        self.store = store  # where the "I posted it" links are kept (none: the message names the command only)
        self.sender = sender or Sender([u.get_secret_value() for u in config.notify.urls],
                                       config.notify.timeout_seconds)

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> Handover:
        # No before_create: nothing is posted by this request. A notification lost to a crash is sent again, which
        # only costs the owner a second message.
        photos = post_photos(post)
        draft_id = post.draft_id
        token = None
        if self.store is not None and draft_id is not None and reachable(self.config):
            token = confirm_links.issue(self.store, draft_id)
        if not self.sender.send(handover_message(self.config, draft_id, post.caption, photos, token)):
            raise step_error(Step.CREATE, Evidence(sent=False), None, error_class="NotificationFailed",
                             message="the post could not be sent to you through notify.urls (see the log)")
        return Handover(f"sent to you to post by hand; {confirm_hint(self.config, draft_id)}")

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        raise PublishError(ErrorKind.TRANSIENT, CANNOT_READ, error_class="NoAccountAccess")

    def comment(self, media_id: str, text: str) -> str:
        raise PublishError(ErrorKind.BAD_CONTENT, CANNOT_READ, error_class="NoAccountAccess")

    def find_comment(self, media_id: str, text: str) -> str | None:
        return None

    def maintain(self, now: datetime) -> None:
        return None

    def close(self) -> None:
        return None


def _doctor_checks(config: Config) -> Iterator[Check]:
    yield Check("instagram", True, f"notify publisher: no login; each post is sent to you through "
                f"{len(config.notify.urls)} notify URL(s) to post by hand")


def _login(config: Config, store: Any, ask: Ask) -> str:
    return ("the notify publisher never logs in to Instagram: each post is sent to you (notify.urls) to post by hand, "
            "and you confirm it with 'pawpost drafts posted ID'")


def _config_problems(config: Config) -> list[str]:
    if not config.notify.urls:
        return ["notify.urls is required when instagram.publisher = 'notify' (the Apprise URL of your phone, where "
                "each post is sent for you to post by hand)"]
    return []


PUBLISHER = PublisherKind(
    name="notify",
    build=lambda config, store: ByHandPublisher(config, store=store),
    doctor_checks=_doctor_checks,
    login=_login,
    config_problems=_config_problems,
)
