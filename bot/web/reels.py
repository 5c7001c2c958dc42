"""A Reel draft on the review site: what its card needs (the Reel's window of the clip and the cover's time), the
Reel itself (made when first asked for, sent in ranges so the browser's player can seek), and the cover picker's
action (bot.drafts.cover.set_cover, as `pawpost drafts cover` calls it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot.errors import PawpostError
from bot.store.database import Store
from bot.web.app import back, site_of

MIME = "video/mp4"


@dataclass(frozen=True)
class ReelView:
    """A Reel draft's clip as its card shows it: the window of the clip the Reel plays (`start`..`end`, seconds into
    the clip), where the cover is (`cover_at`, seconds into the clip) and a version for the video's URL."""

    photo_id: int
    start: float
    end: float
    cover_at: float
    version: str

    def at(self, seconds: float) -> float:
        """A time of the clip as a time of the Reel."""
        return round(max(0.0, seconds - self.start), 2)


def reel_views(store: Store, config: Any, cards: list[Any]) -> dict[int, ReelView]:
    """The Reel of each card whose draft is one, by draft id (one query for the whole queue)."""
    from bot.publish.prepare import pet_boxes
    from bot.video.reelfile import reel_path, reel_plan

    first = {c.id: c.media[0].photo_id for c in cards if c.media}
    if not first:
        return {}
    marks = ",".join("?" for _ in first)
    rows = {r["id"]: r for r in store.all(f"SELECT * FROM photos WHERE kind = 'video' AND id IN ({marks})",
                                          list(first.values()))}
    views = {}
    for draft_id, photo_id in first.items():
        row = rows.get(photo_id)
        if row is None:
            continue
        try:
            plan = reel_plan(store.data_dir, row, config.reels, pet_boxes(store, photo_id))
        except PawpostError:
            continue  # a clip that cannot be made: the card shows its cover picture and the draft's error
        cover_at = float(row["cover_at"] or plan.start)
        views[draft_id] = ReelView(photo_id, plan.start, min(plan.end, float(row["duration_s"] or plan.end)),
                                   cover_at, reel_path(store.data_dir, row, plan).stem)
    return views


async def video(request: Request) -> Response:
    """A Reel draft's Reel as it will be posted (made now if it is not kept yet), sent with ranges."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]

    def load(store: Store) -> Any:
        from bot.drafts.media import first_photo
        from bot.errors import NotFound
        from bot.publish.prepare import pet_boxes
        from bot.video.reelfile import ensure_reel

        photo_id = first_photo(store, draft_id)
        photo = store.photo(photo_id)
        if photo["kind"] != "video":
            raise NotFound(f"draft {draft_id} is not a Reel")
        try:
            return ensure_reel(store.data_dir, photo, site.config.reels, boxes=pet_boxes(store, photo_id))
        except PawpostError as exc:  # the clip cannot be made: the page says why
            return str(exc)

    path = await site.run(load)
    if isinstance(path, str):
        return site.message(request, 404, "No Reel", path)
    return FileResponse(path, media_type=MIME, headers={"Cache-Control": "private, max-age=86400"})


async def cover(request: Request, form: FormData) -> Response:
    """The owner's cover: `seconds` into the clip (the picker shows the Reel's own times and sends the clip's), for
    the draft as the page showed it (`version`: a draft changed since is refused, nothing saved)."""
    site = site_of(request)
    draft_id = request.path_params["draft_id"]
    try:
        seconds = float(str(form.get("seconds") or ""))
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise PawpostError("the cover's time is not a number of seconds")

    def run(store: Store) -> str:
        from bot.drafts.cover import set_cover

        set_cover(store, draft_id, seconds, version=_version(form))
        return f"the cover of draft {draft_id} is now the picture at {seconds:.1f} s"

    return back(request, form, await site.run(run), anchor=f"draft-{draft_id}")


def _version(form: FormData) -> str | None:
    value = form.get("version")
    return value if isinstance(value, str) and value else None
