"""The owner's hints: `IMG_0412.txt` beside `IMG_0412.HEIC` is stored with that photo and leaves the inbox with it.

A hint that arrives a little after its photo still joins it, as long as the photo has not been drafted yet.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from bot import timeutil
from bot.controls import strip_controls
from bot.ingest.inbox import GONE, is_ignored, signature, unlink_if_same
from bot.store.database import Store
from bot.store.states import PhotoStatus

HINT_SUFFIX = ".txt"
HINT_MAX_BYTES = 64 * 1024
NOT_YET_DRAFTED = (PhotoStatus.NEW.value, PhotoStatus.ANALYZED.value)


def is_hint(path: str | os.PathLike[str]) -> bool:
    """An owner's hint: a `.txt` file whose stem names a photo beside it."""
    return Path(path).suffix.lower() == HINT_SUFFIX


def hint_for(photo: Path) -> Path | None:
    """The owner's hint beside a photo (`IMG_0412.txt` for `IMG_0412.HEIC`), if there is one."""
    if is_hint(photo):
        return None
    for suffix in (".txt", ".TXT", ".Txt"):
        path = photo.with_name(photo.stem + suffix)
        if path.is_file() and not path.is_symlink():
            return path
    return None


def photos_beside(hint: Path) -> list[Path]:
    """The photos still in the inbox that a hint is about (same folder, same stem)."""
    try:
        entries = list(os.scandir(hint.parent))
    except FileNotFoundError:
        return []
    return [
        Path(e.path) for e in entries
        if Path(e.name).stem == hint.stem and not is_hint(e.name) and not is_ignored(e.name)
        and not e.is_dir(follow_symlinks=False)
    ]


def read_hint(path: Path) -> str:
    """The hint's text (UTF-8, BOM and surrounding blanks removed; undecodable bytes replaced). Control characters
    are stripped: whoever can write into the inbox must not reach the owner's terminal through a hint."""
    with open(path, "rb") as fh:
        raw = fh.read(HINT_MAX_BYTES)
    return strip_controls(raw.decode("utf-8-sig", errors="replace")).strip()


def attach_late_hint(store: Store, path: Path, name: str) -> tuple[int | None, str | None]:
    """A hint that settled on its own: give it to the latest photo of that name and remove it from the inbox.

    Returns (photo id, None) when it joined its photo, or (photo id or None, why it stays in the inbox).
    """
    if photos_beside(path):
        return None, "a hint waiting for its photo beside it"  # it leaves with the photo
    sig = signature(path)
    if sig is None:
        return None, GONE
    text = read_hint(path)
    stem = PurePosixPath(name).with_suffix("")
    rows = store.all(
        "SELECT id, source_name, status, duplicate_of FROM photos WHERE origin = 'inbox' AND source_name LIKE ? "
        "ESCAPE '\\' ORDER BY id DESC",
        (_like_prefix(str(stem)) + "%",),
    )
    match = next((r for r in rows if PurePosixPath(r["source_name"]).with_suffix("") == stem), None)
    if match is None:
        return None, f"no photo named {stem.name} has arrived yet"
    # A duplicate is never drafted itself: the hint is about the photo it repeats.
    target = match["duplicate_of"] if match["status"] == PhotoStatus.DUPLICATE else match["id"]
    with store.tx():
        taken = _set_hint(store, target, text, only_if_empty=False)
        if taken and target != match["id"]:
            store.update("photos", match["id"], hint=text)
    if not taken:
        status = store.value("SELECT status FROM photos WHERE id = ?", (target,))
        if status in (PhotoStatus.QUARANTINED, PhotoStatus.DUPLICATE):
            return target, f"photo {target} is {status}"
        return target, f"photo {target} is already drafted; give the hint with 'pawpost drafts regenerate ID --hint'"
    unlink_if_same(path, sig)
    return target, None


def share_hint(store: Store, photo_id: int | None, text: str) -> None:
    """A hint dropped with a duplicate is about the photo it repeats: give it to that one if it has none yet."""
    if photo_id is not None:
        _set_hint(store, photo_id, text, only_if_empty=True)


def stored_hint(store: Store, photo_id: int | None) -> str | None:
    return None if photo_id is None else store.value("SELECT hint FROM photos WHERE id = ?", (photo_id,))


def _set_hint(store: Store, photo_id: int, text: str, *, only_if_empty: bool) -> bool:
    marks = ", ".join("?" for _ in NOT_YET_DRAFTED)
    sql = f"UPDATE photos SET hint = ?, updated_at = ? WHERE id = ? AND status IN ({marks})"
    if only_if_empty:
        sql += " AND hint IS NULL"
    with store.tx() as db:
        cur = db.execute(sql, (text, timeutil.iso(timeutil.now()), photo_id, *NOT_YET_DRAFTED))
    return cur.rowcount > 0


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
