"""The dry-run publisher: each post becomes data/outbox/<time>-<draft id>.jpg (a carousel: a folder of that name
holding 01.jpg, 02.jpg, ... in the post's order; a Reel: <time>-<draft id>.mp4 and its cover
<time>-<draft id>.cover.jpg) plus a .json record.

It needs no account, so a newcomer can run pawpost end to end; `recent_media` reads the outbox back so the
exactly-once reconcile works here exactly as it does against Instagram.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.check import Check
from bot.config import Config
from bot.files import copy_atomic, write_atomic
from bot.publish.base import (
    OnContainer,
    PreparedMedium,
    PreparedPost,
    PublishedMedia,
    RecentMedia,
    post_photos,
    same_caption,
)
from bot.publish.publishers.registry import Ask, PublisherKind

log = logging.getLogger(__name__)

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


class DryRunPublisher:
    name = "dry-run"
    posts_by_hand = False

    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)
        self._tidied = False

    def publish(self, post: PreparedPost, *, before_create: Callable[[], None] | None = None,
                on_container: OnContainer | None = None) -> PublishedMedia:
        photos = post_photos(post)
        now = timeutil.now()
        stem = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{post.draft_id}"
        if (self.outbox / f"{stem}.json").exists():
            stem += f"-{post.nonce[:8]}"
        code = "".join(secrets.choice(_ALPHABET) for _ in range(11))
        media_id = f"dry{secrets.randbelow(10**18):018d}"
        self.outbox.mkdir(parents=True, exist_ok=True)
        # The files first, the record last: the record is what makes the post exist (recent_media reads it).
        cover: Path | None = None
        if post.is_carousel:
            files = [Path(stem) / f"{n:02d}.jpg" for n in range(1, len(photos) + 1)]
            shown = self.outbox / stem
        elif post.is_reel:
            files = [Path(f"{stem}.mp4")]
            shown = self.outbox / files[0]
            if photos[0].cover is not None:
                cover = Path(f"{stem}.cover.jpg")
                copy_atomic(photos[0].cover, self.outbox / cover)
        else:
            files = [Path(f"{stem}.jpg")]
            shown = self.outbox / files[0]
        for name, photo in zip(files, photos, strict=True):
            copy_atomic(photo.path, self.outbox / name)
        if before_create is not None:
            before_create()
        record = {
            "draft_id": post.draft_id,
            "caption": post.caption,
            "pets": list(post.pets),
            "alt_text": photos[0].alt_text,
            "media_id": media_id,
            "media_code": code,
            "nonce": post.nonce,
            "posted_at": timeutil.iso(now),
            # The cover: the one photo of a single post, a carousel's first, a Reel's cover frame.
            "image": (cover or files[0]).as_posix(),
            "media": [_medium(name, photo, cover) for name, photo in zip(files, photos, strict=True)],
            "comments": [],
        }
        if post.is_reel:
            record["video"] = files[0].as_posix()
        self._write(self.outbox / f"{stem}.json", record)
        return PublishedMedia(media_id=media_id, code=code, url=shown.resolve().as_uri())

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        records = sorted(self._records(), key=lambda r: (r[1].get("posted_at") or "", r[0].name), reverse=True)
        return [
            RecentMedia(media_id=r["media_id"], code=r["media_code"], caption=r.get("caption") or "",
                        taken_at=timeutil.parse(r.get("posted_at")),
                        url=_shown(self.outbox, r).resolve().as_uri(), kind=_kind(r))
            for _, r in records[:count]
        ]

    def comment(self, media_id: str, text: str) -> str:
        path, record = self._find(media_id)
        comment_id = f"drycomment{secrets.randbelow(10**12):012d}"
        record.setdefault("comments", []).append({"id": comment_id, "text": text})
        self._write(path, record)
        return comment_id

    def find_comment(self, media_id: str, text: str) -> str | None:
        _, record = self._find(media_id)
        return next((c["id"] for c in record.get("comments", []) if same_caption(c["text"], text)), None)

    def maintain(self, now: datetime) -> None:
        """Once per start: remove what a post killed half-way left in the outbox (the poster calls this holding the
        posting lock, so no other process is writing a post now)."""
        if not self._tidied:
            self._tidied = True
            tidy_outbox(self.outbox)

    def close(self) -> None:
        return None

    def _records(self) -> list[tuple[Path, dict[str, Any]]]:
        out = []
        for path in self.outbox.glob("*.json") if self.outbox.is_dir() else []:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours, or hand-edited into nonsense: it cannot be a post we made
            if isinstance(record, dict) and record.get("media_id"):
                out.append((path, record))
        return out

    def _find(self, media_id: str) -> tuple[Path, dict[str, Any]]:
        for path, record in self._records():
            if record["media_id"] == media_id:
                return path, record
        from bot.publish.errors import BadContent

        raise BadContent(f"the outbox has no post {media_id}")

    @staticmethod
    def _write(path: Path, record: dict[str, Any]) -> None:
        write_atomic(path, (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def _medium(name: Path, medium: PreparedMedium, cover: Path | None) -> dict[str, Any]:
    """One medium in the record: its file and alt text; a video's kind, cover, length and size too."""
    entry: dict[str, Any] = {"file": name.as_posix(), "alt_text": medium.alt_text}
    if medium.kind == "video":
        entry.update(kind="video", cover=cover.as_posix() if cover else None, duration=medium.duration,
                     width=medium.width, height=medium.height)
    return entry


def _kind(record: dict[str, Any]) -> str:
    media = record.get("media")
    return "video" if record.get("video") else "carousel" if isinstance(media, list) and len(media) > 1 else "photo"


def _shown(outbox: Path, record: dict[str, Any]) -> Path:
    """What a post's link opens: the image of a single photo, the folder of a carousel, a Reel's video."""
    if record.get("video"):
        return outbox / str(record["video"])
    media = record.get("media")
    if isinstance(media, list) and len(media) > 1:
        return outbox / Path(str(record.get("image", ""))).parent
    return outbox / str(record.get("image", ""))


# A post's own files: '<time>-<draft id>[-<nonce>]' plus a suffix (or none, for a folder).
_POST_STEM = re.compile(r"\d{8}T\d{6}Z-\d+(-[0-9a-f]+)?")


def tidy_outbox(outbox: Path) -> list[str]:
    """Remove half-written temp files and media whose record (.json) was never written: the record is what makes a
    post exist, so media without one belong to a post that was not made. Returns the names removed."""
    removed: list[str] = []
    if not outbox.is_dir():
        return removed
    names = {p.name for p in outbox.iterdir()}
    for path in outbox.iterdir():
        stem = path.name.split(".", 1)[0] if not path.name.startswith(".") else ""
        temp = path.name.startswith(".") and path.name.endswith(".tmp")
        orphan = bool(_POST_STEM.fullmatch(stem)) and path.suffix != ".json" and f"{stem}.json" not in names
        if not (temp or orphan):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
        log.info("outbox: removed %s, left by a post that did not finish", path.name)
    return removed


def _doctor_checks(config: Config) -> Iterator[Check]:
    yield Check("instagram", True, "dry-run publisher: no account needed (posts go to data/outbox/)")


def _login(config: Config, store: Any, ask: Ask) -> str:
    return ("the dry-run publisher needs no login (posts go to data/outbox/); to post to Instagram set "
            "instagram.publisher = \"instagrapi\" and instagram.username, then run 'pawpost login'")


PUBLISHER = PublisherKind(
    name="dry-run",
    build=lambda config, store: DryRunPublisher(config.paths.outbox),
    doctor_checks=_doctor_checks,
    login=_login,
)
