"""The dry-run publisher: each post becomes data/outbox/<time>-<draft id>.jpg plus a .json record.

It needs no account, so a newcomer can run pawpost end to end; `recent_media` reads the outbox back so the
exactly-once reconcile works here exactly as it does against Instagram.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.files import write_atomic
from bot.publish.base import PublishedMedia, RecentMedia, same_caption

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


class DryRunPublisher:
    name = "dry-run"

    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)

    def publish(self, photo: Path, caption: str, nonce: str, *, draft_id: int | None = None,
                pets: Sequence[str] = (), alt_text: str = "",
                before_create: Callable[[], None] | None = None) -> PublishedMedia:
        now = timeutil.now()
        stem = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{draft_id if draft_id is not None else 'post'}"
        if (self.outbox / f"{stem}.json").exists():
            stem += f"-{nonce[:8]}"
        code = "".join(secrets.choice(_ALPHABET) for _ in range(11))
        media_id = f"dry{secrets.randbelow(10**18):018d}"
        image = self.outbox / f"{stem}.jpg"
        self.outbox.mkdir(parents=True, exist_ok=True)
        # The image first, the record last: the record is what makes the post exist (recent_media reads it).
        write_atomic(image, Path(photo).read_bytes())
        if before_create is not None:
            before_create()
        record = {
            "draft_id": draft_id,
            "caption": caption,
            "pets": list(pets),
            "alt_text": alt_text,
            "media_id": media_id,
            "media_code": code,
            "nonce": nonce,
            "posted_at": timeutil.iso(now),
            "image": image.name,
            "comments": [],
        }
        self._write(self.outbox / f"{stem}.json", record)
        return PublishedMedia(media_id=media_id, code=code, url=image.resolve().as_uri())

    def recent_media(self, count: int = 20) -> list[RecentMedia]:
        records = sorted(self._records(), key=lambda r: (r[1].get("posted_at") or "", r[0].name), reverse=True)
        return [
            RecentMedia(media_id=r["media_id"], code=r["media_code"], caption=r.get("caption") or "",
                        taken_at=timeutil.parse(r.get("posted_at")),
                        url=(self.outbox / r.get("image", "")).resolve().as_uri())
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

    def close(self) -> None:
        pass

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
