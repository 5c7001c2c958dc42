"""A tiny publisher that lives only in the tests: everything a new publisher needs, in one module.

Posts land in a list in memory (`POSTED`), which is also the account it reads back for reconciling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from bot.check import Check
from bot.config import Config
from bot.publish.base import OnContainer, PreparedPost, PublishedMedia, RecentMedia, post_photos
from bot.publish.publishers.registry import PublisherKind, StatusNotice

POSTED: list[dict[str, Any]] = []


class PigeonPublisher:
    name = "pigeon"
    posts_by_hand = False

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> PublishedMedia:
        photo = post_photos(post)[0]
        if on_container is not None:
            on_container(f"nest-{post.draft_id}")
        if before_create is not None:
            before_create()
        media = PublishedMedia(media_id=f"pigeon{len(POSTED) + 1}", code=f"P{len(POSTED) + 1}", url="coo://")
        POSTED.append({"media": media, "caption": post.caption, "photo": photo.path.read_bytes(),
                       "alt_text": photo.alt_text})
        return media

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        return [RecentMedia(p["media"].media_id, p["media"].code, p["caption"], None, "coo://")
                for p in reversed(POSTED)][:count]

    def comment(self, media_id: str, text: str) -> str:
        return "c1"

    def find_comment(self, media_id: str, text: str) -> str | None:
        return None

    def maintain(self, now: datetime) -> None:
        return None

    def close(self) -> None:
        return None


def _doctor_checks(config: Config) -> Iterator[Check]:
    yield Check("instagram", True, "pigeon publisher: the birds are fed")


PUBLISHER = PublisherKind(
    name="pigeon",
    build=lambda config, store: PigeonPublisher(),
    doctor_checks=_doctor_checks,
    login=lambda config, store, ask: f"pigeon trained for {ask('name of the loft')}",
    status_notice=lambda config, store, now: StatusNotice(act_soon="the pigeon needs seeds"),
    config_problems=lambda config: [] if config.web.public_url else ["web.public_url is required for pigeons"],
)
