"""The inbox folder's files: which names to take or ignore, reading one once, and taking it out afterwards.

Shared by the watcher (events) and ingest (a one-off scan), so both agree on what a candidate file is.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

# Files that sync tools, cameras, NAS boxes and operating systems leave behind; never photos.
IGNORED_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", "zone.identifier"})
IGNORED_DIRS = frozenset({
    "@eadir", "#recycle", "#snapshot", "$recycle.bin", "lost+found", "__macosx", "system volume information",
})
# Names still being written by a downloader or copier, renamed to their final name when complete.
TEMP_SUFFIXES = (
    ".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".swp", ".lock", ".!sync", ".icloud",
    ".filepart", ".opdownload", "~",
)
TEMP_PREFIXES = (".", "~$", "~syncthing~", "~lock.")

GONE = "it is no longer in the inbox"  # why a file handed on was skipped: something took it meanwhile
Signature = tuple[int, int, int]  # (size, mtime_ns, inode): equal means the same file, unchanged


def is_ignored(relative: str | os.PathLike[str]) -> bool:
    """True for hidden, temporary and system files (`.DS_Store`, `._x`, `*.part`, `@eaDir/...`) and what they hold."""
    parts = PurePosixPath(Path(relative).as_posix()).parts
    if not parts:
        return True
    *folders, name = parts
    for folder in folders:
        low = folder.lower()
        if low.startswith(".") or low in IGNORED_DIRS or low.startswith("~"):
            return True
    low = name.lower()
    return low.startswith(TEMP_PREFIXES) or low in IGNORED_NAMES or low.endswith(TEMP_SUFFIXES)


def source_name(path: Path, inbox: Path) -> str:
    """The file's name relative to the inbox (posix), as recorded in `photos.source_name`: always printable text."""
    try:
        name = path.relative_to(inbox).as_posix()
    except ValueError:
        try:
            name = path.absolute().relative_to(inbox.resolve()).as_posix()
        except ValueError:
            name = path.name
    return printable(name)


def printable(name: str) -> str:
    """A file name as text that can be stored, printed and put in JSON.

    A name may hold any bytes but / and NUL: bytes that are not UTF-8 (decoded by Python as lone surrogates) and
    control characters are written as \\xNN, so a name is always one line of valid text and the same file always
    gets the same text.
    """
    if name.isprintable():
        return name
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" if ord(c) < 256 else
                   f"\\u{ord(c):04x}" for c in raw)


def candidates(folder: Path, inbox: Path | None = None) -> list[Path]:
    """Every file under `folder` that is not ignored; links are listed (never followed) so ingest can set them aside."""
    inbox = inbox or folder
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        keep = []
        for d in dirs:
            path = base / d
            if is_ignored(source_name(path, inbox) + "/x"):
                continue
            if path.is_symlink():
                found.append(path)  # a linked folder: listed so it is set aside, never walked into
            else:
                keep.append(d)
        dirs[:] = keep
        found += [base / f for f in files if not is_ignored(source_name(base / f, inbox))]
    return found


def signature(path: Path) -> Signature | None:
    """The file's Signature, without following links; None when it is gone."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def settled(paths: list[Path], quiet_seconds: float) -> tuple[list[Path], list[Path]]:
    """Split files into those unchanged for `quiet_seconds` and those still being written (waits at most once).

    A file whose mtime is old enough is settled at once; a recent one is looked at again after the wait.
    """
    now = time.time()
    ready, recent = [], {}
    for path in paths:
        sig = signature(path)
        if sig is None:
            continue
        if now - sig[1] / 1e9 >= quiet_seconds:
            ready.append(path)
        else:
            recent[path] = sig
    if not recent:
        return ready, []
    time.sleep(quiet_seconds)
    waiting = []
    for path, sig in recent.items():
        now_sig = signature(path)
        if now_sig is None:
            continue
        (ready if now_sig == sig else waiting).append(path)
    return ready, waiting


# -- reading a file and taking it out ----------------------------------------------------------------


class NotAFile(Exception):
    """A device, pipe or socket in the inbox: never opened (a pipe would block forever)."""


@dataclass
class InboxFile:
    """An inbox file as read once; `sha256` names its content (or, for a link or an unreadable file, what it is)."""

    sig: Signature
    sha256: str
    mtime: datetime
    data: bytes | None = None        # the exact bytes; None for a link, an unreadable or an over-size file
    link_target: str | None = None
    link_inside: bool = False        # the link points at something inside the inbox
    unreadable: str | None = None    # why it could not be read
    oversize: int | None = None      # its size, when over the limit (hashed, not kept)


def read_file(path: Path, inbox: Path, limit_bytes: int) -> InboxFile:
    """Read an inbox file once, never through a link. Raises FileNotFoundError when it is gone, NotAFile."""
    st = os.lstat(path)
    sig = (st.st_size, st.st_mtime_ns, st.st_ino)
    mtime = datetime.fromtimestamp(st.st_mtime, UTC)
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        sha = hashlib.sha256(b"symlink\0" + os.fsencode(target)).hexdigest()
        inside = (path.parent / target).resolve().is_relative_to(inbox.resolve())
        return InboxFile(sig, sha, mtime, link_target=target, link_inside=inside)
    if not stat.S_ISREG(st.st_mode):
        raise NotAFile(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since lstat: it is judged again on the next pass
            raise FileNotFoundError(path) from None
        return _unreadable(path, sig, mtime, exc)
    try:
        with os.fdopen(fd, "rb") as fh:
            fst = os.fstat(fh.fileno())
            sig = (fst.st_size, fst.st_mtime_ns, fst.st_ino)
            if fst.st_size <= limit_bytes:
                data = fh.read(limit_bytes + 1)
                if len(data) <= limit_bytes:
                    return InboxFile(sig, hashlib.sha256(data).hexdigest(), mtime, data=data)
                fh.seek(0)
            # Over the limit: hash it in chunks (its identity) without holding it in memory.
            digest = hashlib.sha256()
            size = 0
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            return InboxFile(sig, digest.hexdigest(), mtime, oversize=size)
    except OSError as exc:
        return _unreadable(path, sig, mtime, exc)


def _unreadable(path: Path, sig: Signature, mtime: datetime, exc: OSError) -> InboxFile:
    # No bytes to hash: name it by what is known, so a rerun finds the same record instead of adding another.
    ident = hashlib.sha256(b"unreadable\0" + os.fsencode(path.name) + repr(sig).encode()).hexdigest()
    return InboxFile(sig, ident, mtime, unreadable=str(exc.strerror or exc))


def unlink_if_same(path: Path, sig: Signature | None) -> None:
    """Remove a file only if it is still the one that was read (the owner may have replaced it since)."""
    if sig is not None and signature(path) == sig:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def move_if_same(path: Path, dest: Path, sig: Signature) -> None:
    """Move a file (or link) to `dest` if it is still the one that was read; works across filesystems."""
    if signature(path) != sig:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dest):
        os.unlink(path)  # the same content under the same name is there already (the name carries its hash)
        return
    try:
        os.rename(path, dest)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # The inbox is on another filesystem: copy, make the copy durable, then remove the original.
    tmp = dest.with_name(f".{dest.name}.tmp")
    if path.is_symlink():
        os.symlink(os.readlink(path), tmp)
    else:
        shutil.copyfile(path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, dest)
    os.unlink(path)
