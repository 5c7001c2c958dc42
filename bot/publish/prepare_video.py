"""A Reel draft's clip as it is posted: the Reel file (bot.video.reelfile, made once and kept) and its cover (the
picture at photos.cover_at, framed as the Reel shows it), staged for one publish attempt; and the cover as the
draft's picture wherever a photo's posted copy is shown (the review page, previews, notifications).

bot.publish.prepare calls these for a medium whose photos row is a video; a clip that cannot be made is BadContent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import CannotMakeReel
from bot.publish.base import PreparedMedium
from bot.publish.errors import BadContent, ErrorKind, PublishError
from bot.publish.framing import Box

VIDEO = "video"


def reels_of(reels: Any) -> Any:
    """The `[reels]` settings given, or their defaults for a caller that has no config at hand."""
    if reels is not None:
        return reels
    from bot.config.reels import ReelsConfig

    return ReelsConfig()


def is_video(photo: Any) -> bool:
    """Whether a photos row (a sqlite3.Row or a dict; None for none) is a clip."""
    return photo is not None and _field(photo, "kind", "photo") == VIDEO


def _field(row: Any, key: str, default: Any) -> Any:
    try:
        return row[key]
    except (IndexError, KeyError):  # sqlite3.Row says IndexError for a column it was not given
        return default


def cover_facts(photo: Any, reels: Any) -> list[Any]:
    """What a clip's cover depends on besides its file and the pets' boxes: where it is and how the Reel is framed."""
    settings = reels_of(reels)
    return [VIDEO, photo["cover_at"], settings.fit, settings.width]


def write_cover(store: Any, photo: Any, dest: Path, boxes: Sequence[Box], reels: Any) -> None:
    """The clip's cover as a JPEG at `dest` (the posted copy a review shows for a Reel)."""
    from bot.video.reelfile import write_cover as write

    with as_publish_errors(photo):
        write(store.data_dir, photo, reels_of(reels), dest, boxes=boxes)


def stage_video(store: Any, photo: Any, alt_text: str, folder: Path, stem: str, boxes: Sequence[Box],
                reels: Any) -> PreparedMedium:
    """The Reel of the clip (made now if it is not kept yet) linked under `folder` as `<stem>.mp4`, and its cover
    written as `<stem>-cover.jpg`: the medium a publisher posts."""
    from bot.video.probe import probe
    from bot.video.reelfile import ensure_reel

    settings = reels_of(reels)
    with as_publish_errors(photo):
        reel = ensure_reel(store.data_dir, photo, settings, boxes=boxes)
        path = folder / f"{stem}.mp4"
        _link(reel, path)
        cover = folder / f"{stem}-cover.jpg"
        try:
            write_cover(store, photo, cover, boxes, settings)
            info = probe(path)
        except BaseException:
            path.unlink(missing_ok=True)
            cover.unlink(missing_ok=True)
            raise
    return PreparedMedium(path, VIDEO, alt_text, info.width, info.height, cover=cover, duration=info.duration_s)


def staged_names(stem: str) -> tuple[str, ...]:
    """The names `stage_video` gives a staged Reel and its cover."""
    return (f"{stem}.mp4", f"{stem}-cover.jpg")


def _link(source: Path, dest: Path) -> None:
    import shutil

    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, dest)


@contextmanager
def as_publish_errors(photo: Any) -> Iterator[None]:
    """A clip that cannot be made into a Reel fails the draft with the reason; the disk failing waits and retries."""
    from bot.errors import BadVideo

    name = _field(photo, "source_name", None) or photo["path"]
    try:
        yield
    except (CannotMakeReel, BadVideo) as exc:
        raise BadContent(f"the clip {name} cannot be made into a Reel: {exc.reason}") from None
    except OSError as exc:
        if exc.errno is None:
            raise
        raise PublishError(ErrorKind.TRANSIENT, f"the clip {name} cannot be read from the library: {exc.strerror}",
                           error_class=type(exc).__name__) from None
