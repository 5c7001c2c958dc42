"""`pawpost history import`: the account's posts from before pawpost, as training data for retraining.

Each post's caption and date go to `imported_posts`, its image into the library (origin 'imported'); one post at
a time, so an interrupted import resumes where it stopped. Pet recognition then runs on the new photos.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import ModelUnavailable, PawpostError
from bot.store.database import Store
from training.finetune import ProgressFn

log = logging.getLogger(__name__)

PAGE_SIZE = 33  # what the Instagram app asks for per feed page
MAX_PAGES = 1000  # a safety stop against a feed that keeps answering the same cursor


@dataclass
class ImportSummary:
    found: int = 0  # posts on the account (as far as listed)
    imported: int = 0  # recorded by this run
    already: int = 0  # recorded before, or pawpost's own posts
    no_image: int = 0  # posts without a downloadable image (recorded with their caption only)
    failed: list[str] = field(default_factory=list)  # post codes whose image could not be fetched: retried next run
    recognized: int | None = None  # photos pet recognition analysed afterwards
    recognize_error: str | None = None
    stopped: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> str:
        parts = [f"{self.imported} post(s) imported, {self.already} already there, {self.found} on the account"]
        if self.no_image:
            parts.append(f"{self.no_image} without a usable image (captions kept)")
        if self.failed:
            parts.append(f"{len(self.failed)} image(s) could not be downloaded ({', '.join(self.failed[:5])}); "
                         "run the import again to retry them")
        if self.stopped:
            parts.append("stopped early; run it again to continue")
        if self.recognized is not None:
            parts.append(f"pets recognised in {self.recognized} photo(s)")
        if self.recognize_error:
            parts.append(f"pet recognition did not run ({self.recognize_error}); the daemon does it later")
        return "; ".join(parts)


def import_history(store: Store, config: Config, *, client: Any = None, progress: ProgressFn | None = None,
                   stop: threading.Event | None = None, limit: int | None = None, recognize: bool = True,
                   vision: Any = None) -> ImportSummary:
    """Import every post of the configured account not imported yet; safe to interrupt and run again.

    `client`: a logged-in instagrapi Client (default: the one the publishers' registry gives for reading the
    account's past posts, with the saved session).
    """
    if client is None:
        from bot.publish.publishers.registry import history_client

        client = history_client(config, store)
    summary = ImportSummary()
    medias = list_medias(client, config, limit=limit, progress=progress)
    summary.found = len(medias)
    known = {r[0] for r in store.all("SELECT media_id FROM imported_posts")}
    known |= {r[0] for r in store.all("SELECT media_id FROM drafts WHERE media_id IS NOT NULL")}
    todo = [m for m in medias if str(m.pk) not in known and str(m.id) not in known]
    summary.already = len(medias) - len(todo)
    # Oldest first: an interrupted import leaves a contiguous, time-ordered history behind.
    todo.sort(key=lambda m: m.taken_at)
    for done, media in enumerate(todo, 1):
        if stop is not None and stop.is_set():
            summary.stopped = True
            break
        _import_one(store, config, media, summary)
        if progress:
            progress("import", done, len(todo), None)
    if recognize and not summary.stopped:
        _recognize(store, config, vision, summary)
    return summary


def list_medias(client: Any, config: Config, *, limit: int | None = None,
                progress: ProgressFn | None = None) -> list[Any]:
    """The account's posts, newest first, read from its feed page by page.

    The feed endpoint directly, not `user_medias`: instagrapi's v1 helper logs and swallows errors, which would
    make a failed listing look like an account with no posts.
    """
    from instagrapi.extractors import extract_media_v1

    user_id = client.user_id or client.user_id_from_username(config.instagram.username)
    medias: list[Any] = []
    cursor = ""
    for _page in range(MAX_PAGES):
        params = {"count": PAGE_SIZE, "rank_token": client.rank_token, "ranked_content": "true"}
        if cursor:
            params["max_id"] = cursor
        try:
            answer = client.private_request(f"feed/user/{user_id}/", params=params)
        except Exception as exc:
            raise PawpostError(f"Instagram did not list the account's posts ({type(exc).__name__}: "
                               f"{str(exc)[:120]}); nothing was lost, run the import again later") from None
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise PawpostError("Instagram's answer to the feed request had no posts list; run the import again later")
        medias += [extract_media_v1(item) for item in items if isinstance(item, dict)]
        if progress:
            progress("list", len(medias), len(medias), None)
        if limit and len(medias) >= limit:
            return medias[:limit]
        cursor = answer.get("next_max_id") or ""
        if not answer.get("more_available") or not cursor:
            break
    return medias


def image_url(media: Any) -> str | None:
    """The post's photo (an album's first photo; a video's cover)."""
    if media.media_type == 8 and media.resources:
        first = next((r for r in media.resources if r.media_type == 1), media.resources[0])
        return str(first.thumbnail_url) if first.thumbnail_url else None
    return str(media.thumbnail_url) if media.thumbnail_url else None


def _import_one(store: Store, config: Config, media: Any, summary: ImportSummary) -> None:
    from bot.ingest.intake import add_to_library

    photo_id = None
    url = image_url(media)
    if url is None:
        summary.no_image += 1
    else:
        try:
            data = _download(url, config)
        except Exception as exc:  # network, HTTP error: leave it for the next run
            log.warning("post %s: image download failed: %s", media.code, exc)
            summary.failed.append(media.code)
            return
        result = add_to_library(store, config, data, f"instagram/{media.code}.jpg", origin="imported",
                                taken_at=_aware(media.taken_at))
        if result.status == "quarantined":
            summary.no_image += 1
        else:
            # A duplicate points at the photo it repeats: that one is (or will be) recognised.
            photo_id = result.duplicate_of or result.photo_id
    with store.tx() as db:
        db.execute(
            "INSERT OR IGNORE INTO imported_posts (media_id, media_code, taken_at, caption, photo_id, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (str(media.pk), media.code, timeutil.iso(_aware(media.taken_at)), media.caption_text or "", photo_id,
             timeutil.iso(timeutil.now())),
        )
    summary.imported += 1


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _download(url: str, config: Config) -> bytes:
    import requests

    answer = requests.get(url, timeout=config.instagram.request_timeout)
    answer.raise_for_status()
    return answer.content


def _recognize(store: Store, config: Config, vision: Any, summary: ImportSummary) -> None:
    """Pet recognition on the new photos now, so their posts carry pet names (the daemon would do it too)."""
    try:
        from bot.vision.analyze import analyze_new
    except ImportError as exc:
        summary.recognize_error = f"vision is not available: {exc}"
        return
    try:
        if vision is None:
            from bot.runtime.services import ModelServices

            vision = ModelServices(config).vision()
        summary.recognized = analyze_new(store, config, vision)
    except ModelUnavailable as exc:
        summary.recognize_error = str(exc)
