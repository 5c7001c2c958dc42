"""The posted copies of a post's photos: upright, sRGB JPEG, aspect 4:5..1.91:1 (one ratio for a whole carousel), at
most 1440 px wide and 8 MB, no EXIF; cached per draft, and staged for each publish attempt.

Where each photo is cut is bot.publish.framing's: the owner's frame when set, else the pets kept inside (centred
otherwise), padded rather than cutting a pet.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.drafts.media import MAX_MEDIA, draft_of_photo, media_of, media_of_drafts
from bot.files import write_atomic
from bot.ingest.filecheck import register_heif
from bot.limits import MAX_BYTES, MAX_RATIO, MAX_WIDTH, MIN_RATIO
from bot.publish.base import PreparedMedium, PreparedPost
from bot.publish.errors import BadContent, ErrorKind, PublishError
from bot.publish.framing import Box, Frame, Shot, carousel_ratio, frame_shot, plan_frame
from bot.publish.prepare_video import (
    as_publish_errors,
    cover_facts,
    is_video,
    reels_of,
    stage_video,
    staged_names,
    write_cover,
)
from bot.store.states import DraftStatus

__all__ = ["MAX_BYTES", "MAX_RATIO", "MAX_WIDTH", "MIN_RATIO", "Frame", "PostPlan", "PreparedPhoto", "cached_copy",
           "pet_boxes", "plan_frame", "post_plan", "prepare_photo", "prepare_waiting", "prepared_copy",
           "prepared_key", "stage_post", "staged_files"]

QUALITIES = (92, 88, 84, 80, 75, 70, 60, 50)


@dataclass(frozen=True)
class PreparedPhoto:
    path: Path
    width: int
    height: int
    size_bytes: int
    frame: Frame


def prepare_photo(source: Path, dest: Path, boxes: Sequence[Sequence[float]] = (), *, ratio: float | None = None,
                  crop: Box | None = None) -> PreparedPhoto:
    """Write the posted copy of `source` to `dest`. `boxes` (the pets) and `crop` (the owner's frame) are in the
    upright original's pixels [x0,y0,x1,y1]; `ratio` is the carousel's (None: the photo's own, within the limits)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    register_heif()
    try:
        with Image.open(source) as im:
            raw_w, raw_h = im.size
            orientation = im.getexif().get(0x0112, 1)
            upright = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
            frame = frame_shot(Shot(*upright, tuple(boxes), crop), ratio)  # type: ignore[arg-type]
            cut_w = frame.crop[2] - frame.crop[0]
            scale = min(1.0, MAX_WIDTH / frame.canvas[0])
            # JPEG can decode at 1/2, 1/4, 1/8 size: a 50-megapixel photo need not be decoded whole to become 1440.
            if scale < 1:
                im.draft(None, (math.ceil(raw_w * scale * 1.01), math.ceil(raw_h * scale * 1.01)))
            im.load()
            decoded = im.size[0] / raw_w
            upright_im = ImageOps.exif_transpose(im)
            x0, y0, x1, y1 = (round(v * decoded) for v in frame.crop)
            cut = upright_im.crop((x0, y0, x1, y1))
            cut = _to_srgb(cut)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            # The disk, not the photo (EIO, a permission, a network share away): the draft waits and tries again.
            raise PublishError(ErrorKind.TRANSIENT, f"the photo {source.name} cannot be read from the library: "
                               f"{exc.strerror}", error_class=type(exc).__name__) from None
        raise BadContent(f"the photo {source.name} cannot be read: {exc}") from None
    out_w = min(MAX_WIDTH, frame.canvas[0])
    out_h = _height_for(out_w, frame.canvas, ratio)
    content_w = max(1, round(cut_w * out_w / frame.canvas[0]))
    content_h = max(1, round((frame.crop[3] - frame.crop[1]) * out_h / frame.canvas[1]))
    content_w, content_h = min(content_w, out_w), min(content_h, out_h)
    if cut.size != (content_w, content_h):
        cut = cut.resize((content_w, content_h), Image.Resampling.LANCZOS)
    if (content_w, content_h) != (out_w, out_h):
        canvas = Image.new("RGB", (out_w, out_h), _mean_colour(cut))
        canvas.paste(cut, ((out_w - content_w) // 2, (out_h - content_h) // 2))
        cut = canvas
    data = _encode(cut)
    write_atomic(dest, data)
    return PreparedPhoto(dest, out_w, out_h, len(data), frame)


def _height_for(width: int, canvas: tuple[int, int], ratio: float | None = None) -> int:
    """The output height for `width` (at the carousel's `ratio` when given, so that every item has the same shape),
    rounded so the ratio stays inside Instagram's limits."""
    height = max(1, round(width / ratio if ratio else width * canvas[1] / canvas[0]))
    while width / height < MIN_RATIO:
        height -= 1
    while width / height > MAX_RATIO:
        height += 1
    return height


def _to_srgb(im: Any) -> Any:
    from PIL import Image, ImageCms

    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"),
                                           outputMode="RGBA" if im.mode == "RGBA" else "RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are most likely sRGB already
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    return im.convert("RGB") if im.mode != "RGB" else im


def _mean_colour(im: Any) -> tuple[int, int, int]:
    from PIL import ImageStat

    return tuple(int(v) for v in ImageStat.Stat(im.resize((32, 32))).mean[:3])  # type: ignore[return-value]


def _encode(im: Any) -> bytes:
    # No exif= and no icc_profile=: the copy carries no GPS, no camera data, and plain sRGB pixels.
    for quality in QUALITIES:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, optimize=True)
        if buf.tell() <= MAX_BYTES:
            return buf.getvalue()
    raise BadContent("the photo stays over Instagram's 8 MB limit even at low quality")


def pet_boxes(store: Any, photo_id: int) -> list[Box]:
    """The pets' boxes for a photo: the recognised pets (photo_pets), else every detected animal."""
    boxes = [_box(r[0]) for r in store.all("SELECT box FROM photo_pets WHERE photo_id = ? AND box != ''",
                                            (photo_id,))]
    boxes = [b for b in boxes if b]
    if boxes:
        return boxes
    raw = store.value("SELECT analysis FROM photos WHERE id = ?", (photo_id,))
    try:
        animals = (json.loads(raw) or {}).get("animals") or [] if raw else []
    except (ValueError, AttributeError):
        animals = []
    named = [_box(a.get("box")) for a in animals if isinstance(a, dict) and a.get("pet")]
    anyone = [_box(a.get("box")) for a in animals if isinstance(a, dict)]
    return [b for b in (named if any(named) else anyone) if b]


def _box(value: Any) -> Box | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list | tuple) and len(value) == 4:
        try:
            x0, y0, x1, y1 = (float(v) for v in value)
        except (TypeError, ValueError):
            return None
        if x1 > x0 and y1 > y0:
            return (x0, y0, x1, y1)
    return None


# -- the cached posted copies of a draft, made when the draft is created -----------------------------------------

# Bump when prepare_photo's output changes, so every cached copy is made again.
PREPARED_VERSION = "2"


@dataclass(frozen=True)
class PostPlan:
    """How a draft's photos are prepared, in the post's order: each photo's framing facts and cache key, and the one
    ratio of a carousel (None for a single photo, which keeps its own within the limits)."""

    photo_ids: tuple[int, ...]
    shots: tuple[Shot, ...]
    ratio: float | None
    keys: tuple[str, ...]

    def index(self, photo_id: int) -> int:
        return self.photo_ids.index(photo_id)


def post_plan(store: Any, draft_id: int | None, photo_id: int | None = None, *, reels: Any = None) -> PostPlan:
    """The plan of a draft's post (or of one photo in no draft). Every copy's key covers the whole media list in
    order, each photo's file, pets' boxes and the owner's frame, and this module's version: adding, removing or
    moving a photo, or a pet correction on any of them, can change the carousel's ratio, so every copy is made
    again; nothing else makes one again. A clip's copy is its cover: its key also covers the cover's time and the
    Reel's framing (`reels`, the `[reels]` settings; None: their defaults)."""
    import hashlib

    media = media_of(store, draft_id) if draft_id is not None else []
    photo_ids = [m.photo_id for m in media] if media else [int(photo_id or 0)]
    crops = {m.photo_id: m.crop for m in media}
    shots, facts = [], []
    for pid in photo_ids:
        row = store.one("SELECT sha256, path, width, height, kind, cover_at FROM photos WHERE id = ?", (pid,))
        sha = row["sha256"] if row else ""
        width, height = _upright_size(store, row)
        boxes = tuple(pet_boxes(store, pid))
        shots.append(Shot(width, height, boxes, crops.get(pid)))
        facts.append([sha, [list(b) for b in boxes], list(crops[pid]) if crops.get(pid) else None,
                      *(cover_facts(row, reels) if is_video(row) else [])])
    ratio = carousel_ratio(shots) if len(shots) > 1 else None
    keys = tuple(hashlib.sha256(json.dumps([PREPARED_VERSION, i, ratio, facts]).encode()).hexdigest()[:16]
                 for i in range(len(photo_ids)))
    return PostPlan(tuple(photo_ids), tuple(shots), ratio, keys)


def _upright_size(store: Any, row: Any) -> tuple[int, int]:
    """A photo's size as shown (EXIF orientation applied): the library's record, else read from the file."""
    if row is not None and (row["width"] or 0) > 0 and (row["height"] or 0) > 0:
        return int(row["width"]), int(row["height"])
    if is_video(row):
        return 1, 1  # a clip's size is read when its Reel is made
    from PIL import Image, UnidentifiedImageError

    source = store.abspath(row["path"]) if row is not None else None
    try:
        with Image.open(source) as im:  # type: ignore[arg-type]
            w, h = im.size
            return (h, w) if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (w, h)
    except (OSError, TypeError, UnidentifiedImageError, ValueError):
        return 1, 1  # unreadable: preparing it says so, on the draft


def _plan_of_photo(store: Any, photo_id: int, reels: Any = None) -> PostPlan:
    return post_plan(store, draft_of_photo(store, photo_id), photo_id, reels=reels)


def prepared_key(store: Any, photo_id: int, *, reels: Any = None) -> tuple[str, list[Box]]:
    """The key of a photo's posted copy in its draft's post (`post_plan`), and the pets' boxes it keeps."""
    plan = _plan_of_photo(store, photo_id, reels)
    i = plan.index(photo_id)
    return plan.keys[i], list(plan.shots[i].boxes)


def prepared_copy(store: Any, photo_id: int, plan: PostPlan | None = None, *, reels: Any = None) -> Path:
    """The posted copy of a photo as its draft posts it, from data/prepared/cache/ or made now: byte for byte what
    publishing makes from the same files, boxes, frames and order (the key says when to make it again). A clip's is
    its cover, framed as its Reel (`reels`: the `[reels]` settings)."""
    plan = plan or _plan_of_photo(store, photo_id, reels)
    photo = store.photo(photo_id)
    source = store.abspath(photo["path"])
    if source is None or not source.is_file():
        raise BadContent(f"the photo file {photo['path']} is missing from the library")
    i = plan.index(photo_id)
    dest = _cache_path(store, photo_id, plan.keys[i])
    if dest.is_file():
        return dest
    if is_video(photo):
        write_cover(store, photo, dest, plan.shots[i].boxes, reels)
    else:
        prepare_photo(source, dest, plan.shots[i].boxes, ratio=plan.ratio, crop=plan.shots[i].crop)
    for old in dest.parent.glob(f"{photo_id}-*.jpg"):
        if old != dest:
            old.unlink(missing_ok=True)
    return dest


def cached_copy(store: Any, photo_id: int, *, reels: Any = None) -> Path | None:
    """The posted copy of a photo if it is made already and still current (None: `prepared_copy` makes it)."""
    path = _cache_path(store, photo_id, prepared_key(store, photo_id, reels=reels)[0])
    return path if path.is_file() else None


def _cache_path(store: Any, photo_id: int, key: str) -> Path:
    return store.data_dir / "prepared" / "cache" / f"{photo_id}-{key}.jpg"


def prepare_waiting(store: Any, limit: int = 50, *, reels: Any = None) -> int:
    """Make the posted copy of every pending or approved draft that has none yet (and a Reel draft's Reel file, per
    `reels`, the `[reels]` settings); returns how many were made.

    A photo that cannot be prepared is left alone here: publishing reports it on the draft, where it belongs.
    """
    import logging

    made = 0
    ids = [r[0] for r in store.all("SELECT d.id FROM drafts d WHERE d.status IN (?, ?) ORDER BY d.id DESC LIMIT ?",
                                   (DraftStatus.PENDING, DraftStatus.APPROVED, limit))]
    media = media_of_drafts(store, ids)
    for draft_id in ids:
        if draft_id not in media:
            continue
        plan = post_plan(store, draft_id, reels=reels)
        for photo_id, key in zip(plan.photo_ids, plan.keys, strict=True):
            if _cache_path(store, photo_id, key).is_file():
                continue
            try:
                prepared_copy(store, photo_id, plan, reels=reels)
                photo = store.photo(photo_id)
                if is_video(photo):
                    from bot.video.reelfile import ensure_reel

                    with as_publish_errors(photo):
                        ensure_reel(store.data_dir, photo, reels_of(reels), boxes=plan.shots[0].boxes)
                made += 1
            except (BadContent, PublishError) as exc:
                logging.getLogger(__name__).warning("draft %s: no preview: %s", draft_id, exc)
    return made


# -- a draft's post, staged for one publish attempt ------------------------------------------------------------

def stage_post(store: Any, draft_id: int, caption: str, nonce: str, alt_texts: Sequence[str],
               folder: Path, *, reels: Any = None) -> PreparedPost:
    """The draft's media as the publisher posts them, in order: each medium's posted copy (the cached one the owner
    reviewed, made again only if a file, the pets' boxes, a frame or the order changed since; a carousel's all at
    one ratio) linked under `folder` to this attempt's own name (`staged_files` finds them), so a pet correction
    during the upload cannot pull a file away. Each carries its alt text from `alt_texts` (read with the caption, in
    the same order); the post names the pets it shows. A clip is staged as its Reel and cover (`reels`: the
    `[reels]` settings)."""
    import os
    import shutil

    from PIL import Image

    from bot.vision.photo_pets import pets_in_photos

    media = media_of(store, draft_id)
    plan = post_plan(store, draft_id, reels=reels)
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[PreparedMedium] = []
    try:
        for medium, alt in zip(media, alt_texts, strict=True):
            photo = store.photo(medium.photo_id)
            if is_video(photo):
                stem = _staged_name(draft_id, nonce, medium.position).removesuffix(".jpg")
                boxes = plan.shots[plan.index(medium.photo_id)].boxes
                staged.append(stage_video(store, photo, alt, folder, stem, boxes, reels))
                continue
            cached = prepared_copy(store, medium.photo_id, plan)
            path = folder / _staged_name(draft_id, nonce, medium.position)
            path.unlink(missing_ok=True)
            try:
                os.link(cached, path)
            except OSError:  # a file system without hard links
                shutil.copyfile(cached, path)
            with Image.open(path) as im:
                width, height = im.size
            staged.append(PreparedMedium(path, "photo", alt, width, height))
    except BaseException:
        for medium_file in staged:
            medium_file.path.unlink(missing_ok=True)
            if medium_file.cover is not None:
                medium_file.cover.unlink(missing_ok=True)
        raise
    found = pets_in_photos(store, [m.photo_id for m in media])
    pets = dict.fromkeys(p.name for m in media for p in found.get(m.photo_id, []))
    return PreparedPost(draft_id, tuple(staged), caption, nonce, tuple(pets))


def staged_files(folder: Path, draft_id: int, nonce: str) -> list[Path]:
    """The files `stage_post` linked for this attempt, in the post's order (to remove once it is over)."""
    names: dict[str, tuple[int, int]] = {}
    for position in range(MAX_MEDIA):
        name = _staged_name(draft_id, nonce, position)
        for i, each in enumerate([name, *staged_names(name.removesuffix(".jpg"))]):
            names[each] = (position, i)
    return sorted((p for p in folder.glob(f"{draft_id}-{nonce[:8]}*") if p.name in names),
                  key=lambda p: names[p.name])


def _staged_name(draft_id: int, nonce: str, position: int) -> str:
    # The first medium keeps the name a post of one photo has always had.
    return f"{draft_id}-{nonce[:8]}" + (f"-{position}" if position else "") + ".jpg"
