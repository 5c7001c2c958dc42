"""The review site's grid preview: the account's profile grid as it will look (bot.publish.grid), a tile's image,
and moving a queued post by picking it, then its new place (two taps, no dragging: it works on a phone).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot import timeutil
from bot.errors import PawpostError
from bot.store.database import Store
from bot.web.app import site_of

# A Reel's cover frame is made at most this many pixels on its longer side: a tile is small even on a wide screen.
TILE_SIDE = 960


def _id(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


async def grid(request: Request) -> Response:
    """The grid; `?pick=ID` is the first tap: that queued post is picked and every other place offers itself."""
    site = site_of(request)
    pick = _id(request.query_params.get("pick"))

    def load(store: Store) -> dict[str, Any]:
        from bot.publish.gate import posting_blocked
        from bot.publish.grid import grid as grid_of

        shown = grid_of(store, site.config)
        picked = next((t for t in shown.queued if t.draft_id == pick), None) if pick is not None else None
        return {"grid": shown, "picked": picked, "blocked": posting_blocked(store)}

    return site.render(request, "grid.html", **await site.run(load), config=site.config)


async def tile_image(request: Request) -> Response:
    """A tile's picture: a draft's posted copy (its first photo), an imported post's photo, or a Reel's cover frame.
    The photo id from the URL is only ever looked up among the grid's photos."""
    site = site_of(request)
    photo_id = request.path_params["photo_id"]

    def load(store: Store) -> Any:
        from bot.errors import NotFound
        from bot.publish.errors import BadContent, PublishError
        from bot.publish.grid import grid_photo
        from bot.publish.prepare import prepared_copy

        if not grid_photo(store, photo_id):
            raise NotFound(f"photo {photo_id} is not in the grid")
        row = store.photo(photo_id)
        if (row["kind"] or "photo") == "video":
            return _cover(store, row)
        if store.value("SELECT 1 FROM draft_media WHERE photo_id = ?", (photo_id,)):
            try:
                return prepared_copy(store, photo_id)
            except (BadContent, PublishError) as exc:
                return str(exc)
        path = store.abspath(row["path"])  # an imported post's photo, as Instagram served it
        return path if path is not None and path.is_file() else f"the photo file {row['path']} is missing"

    found = await site.run(load)
    if isinstance(found, str):
        return site.message(request, 404, "No image", found)
    return FileResponse(found, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _cover(store: Store, row: Any) -> Any:
    """A Reel's tile: the frame at its cover time as a JPEG, made once per cover time under data/prepared/grid/."""
    import io

    from bot.files import write_atomic
    from bot.video.frames import frame_at

    source = store.abspath(row["path"])
    if source is None or not source.is_file():
        return f"the video file {row['path']} is missing from the library"
    cover_at = float(row["cover_at"] or 0.0)
    dest = store.data_dir / "prepared" / "grid" / f"{row['id']}-{cover_at:.3f}.jpg"
    if dest.is_file():
        return dest
    try:
        image = frame_at(source, cover_at, max_side=TILE_SIDE)
    except PawpostError as exc:
        return str(exc)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest, buffer.getvalue())
    return dest


async def move(request: Request, form: FormData) -> Response:
    """The second tap: put the picked post (`draft`) on the place of another (`to`), swapping their times; `at`
    and the versions are what the page showed, so a grid that changed meanwhile moves nothing."""
    site = site_of(request)
    draft_id, to_id = _id(form.get("draft")), _id(form.get("to"))
    if draft_id is None or to_id is None:
        raise PawpostError("pick a queued post, then the place to put it")
    versions = {i: str(v) for i, v in ((draft_id, form.get("version")), (to_id, form.get("to_version"))) if v}

    def run(store: Store) -> str:
        from bot.publish.grid import move as move_in_grid

        done = move_in_grid(store, site.config, draft_id, to_id, shown_at=str(form.get("at") or "") or None,
                            versions=versions)
        zone = site.config.schedule.zone
        if done.other is None:
            return f"Draft {draft_id} stays at {timeutil.local(done.at, zone)}"
        return (f"Draft {draft_id} now goes out at {timeutil.local(done.at, zone)}, and draft {done.other} at "
                f"{timeutil.local(done.other_at, zone)}")

    line = await site.run(run)
    return site.redirect(request, f"/grid#grid-draft-{draft_id}", line)
