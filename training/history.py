"""`pawpost history import`: the account's posts from before pawpost, as training data for retraining.

Each post's caption and date go to `imported_posts`, its image into the library (origin 'imported'); one post at
a time, so an interrupted import resumes where it stopped. Pet recognition then runs on the new photos.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.errors import ModelUnavailable
from bot.publish.history import HistoryReader, PastPost
from bot.store.database import Store
from training.finetune import ProgressFn

log = logging.getLogger(__name__)


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
    listing_cut: str | None = None  # why the listing ended before the oldest post (a rate limit)

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
        if self.listing_cut:
            parts.append(self.listing_cut)
        if self.recognized is not None:
            parts.append(f"pets recognised in {self.recognized} photo(s)")
        if self.recognize_error:
            parts.append(f"pet recognition did not run ({self.recognize_error}); the daemon does it later")
        return "; ".join(parts)


def import_history(store: Store, config: Config, *, reader: HistoryReader | None = None,
                   progress: ProgressFn | None = None, stop: threading.Event | None = None, limit: int | None = None,
                   recognize: bool = True, vision: Any = None) -> ImportSummary:
    """Import every post of the configured account not imported yet; safe to interrupt and run again.

    `reader`: what lists the account's posts (default: the publishers' registry's, with the saved login: the
    official API's media list with publisher = "graph", instagrapi's feed otherwise).
    """
    if reader is None:
        from bot.publish.publishers.registry import history_reader

        reader = history_reader(config, store)
    summary = ImportSummary()
    listing = reader.list_posts(limit=limit, progress=progress)
    posts = listing.posts
    summary.found = len(posts)
    summary.listing_cut = listing.cut
    # Known by id, or by short code: the same post has another id in the official API than in instagrapi's.
    known = {r[0] for r in store.all("SELECT media_id FROM imported_posts")}
    known |= {r[0] for r in store.all("SELECT media_id FROM drafts WHERE media_id IS NOT NULL")}
    codes = {r[0] for r in store.all("SELECT media_code FROM imported_posts WHERE media_code IS NOT NULL")}
    codes |= {r[0] for r in store.all("SELECT media_code FROM drafts WHERE media_code IS NOT NULL")}
    todo = [p for p in posts if p.media_id not in known and p.code not in codes]
    summary.already = len(posts) - len(todo)
    # Oldest first: an interrupted import leaves a contiguous, time-ordered history behind.
    todo.sort(key=lambda p: p.taken_at)
    for done, post in enumerate(todo, 1):
        if stop is not None and stop.is_set():
            summary.stopped = True
            break
        _import_one(store, config, post, summary)
        if progress:
            progress("import", done, len(todo), None)
    if recognize and not summary.stopped:
        _recognize(store, config, vision, summary)
    return summary


def _import_one(store: Store, config: Config, post: PastPost, summary: ImportSummary) -> None:
    from bot.ingest.intake import add_to_library

    photo_id = None
    if post.image_url is None:
        summary.no_image += 1
    else:
        try:
            data = _download(post.image_url, config)
        except Exception as exc:  # network, HTTP error: leave it for the next run
            log.warning("post %s: image download failed: %s", post.code, exc)
            summary.failed.append(post.code)
            return
        result = add_to_library(store, config, data, f"instagram/{post.code}.jpg", origin="imported",
                                taken_at=post.taken_at)
        if result.status == "quarantined":
            summary.no_image += 1
        else:
            # A duplicate points at the photo it repeats: that one is (or will be) recognised.
            photo_id = result.duplicate_of or result.photo_id
    with store.tx() as db:
        db.execute(
            "INSERT OR IGNORE INTO imported_posts (media_id, media_code, taken_at, caption, photo_id, imported_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (post.media_id, post.code, timeutil.iso(post.taken_at), post.caption, photo_id,
             timeutil.iso(timeutil.now())),
        )
    summary.imported += 1


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
