"""Forming shoots: each analyzed frame joins the shoot of its moment and pets, near-identical frames are grouped
under their best, and a shoot closes (its best shot leads) once no frame of it has arrived for a while.

Everything is in the database (shoots, photos.shoot_id, photos.near_duplicate_of), so a restart picks up where it
left off: a frame is grouped once, a shoot is never split or made twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot import timeutil
from bot.config import Config
from bot.drafts.media import photos_in_drafts_sql
from bot.ingest.filecheck import hash_distance
from bot.store.database import Store
from bot.store.states import PhotoStatus, ShootState

log = logging.getLogger(__name__)

ANALYZED = PhotoStatus.ANALYZED.value
# The frames of a shoot that are judged against each other: analyzed, or in a draft already.
JUDGED = (PhotoStatus.ANALYZED.value, PhotoStatus.DRAFTED.value)
# Within a shoot, hashes this many times ingest.near_duplicate_distance apart are near-identical when the frames'
# embeddings agree (benchmarks/shoots.py: twice left a re-framed copy offered beside its original).
LOOSE = 3
# With carousel = "auto", a shoot makes a carousel when it has at least this many distinct best shots.
CAROUSEL_ENOUGH = 2


def form_shoots(store: Store, config: Config, *, close_all: bool = False) -> dict[str, int]:
    """Group every ungrouped analyzed inbox frame into its shoot, then close the shoots that settled (all open
    ones with `close_all`: `pawpost ingest` once the inbox is empty). Returns {"grouped": n, "closed": n}."""
    grouped = 0
    # A video is a post of its own (a Reel): never a frame of a shoot.
    rows = store.all("SELECT id FROM photos WHERE status = ? AND origin = 'inbox' AND kind = 'photo' "
                     "AND shoot_id IS NULL AND taken_at IS NOT NULL ORDER BY taken_at, id", (ANALYZED,))
    for row in rows:
        if join_shoot(store, config, row["id"]) is not None:
            grouped += 1
    closed = close_settled(store, config, close_all=close_all)
    return {"grouped": grouped, "closed": len(closed)}


def join_shoot(store: Store, config: Config, photo_id: int) -> int | None:
    """Put one analyzed frame into the shoot of its moment and pets (a new one if none), in one transaction;
    returns the shoot's id (None when it is already in one or no longer analyzed)."""
    gap = timedelta(seconds=config.ingest.shoot_gap_seconds)
    with store.tx():
        photo = store.one("SELECT id, status, shoot_id, taken_at, created_at FROM photos WHERE id = ?", (photo_id,))
        if photo is None or photo["shoot_id"] is not None or photo["status"] != ANALYZED:
            return None
        taken = timeutil.parse(photo["taken_at"])
        assert taken is not None
        pets = _pets(store, [photo_id]).get(photo_id, frozenset())
        # A gap of 0 turns shoots off: every frame is a shoot of its own.
        near = _shoots_near(store, taken, gap) if gap else []
        matches = [s for s in near if _same_pets(pets, _shoot_pets(store, s["id"]))]
        now = timeutil.iso(timeutil.now())
        if not matches:
            shoot_id = store.insert("shoots", state=ShootState.OPEN.value, first_taken_at=photo["taken_at"],
                                    last_taken_at=photo["taken_at"], last_arrival_at=photo["created_at"],
                                    created_at=now, updated_at=now)
        else:
            # A frame between two open shoots of the same pets joins them into one (frames copied in out of order).
            shoot_id = matches[0]["id"]
            for other in matches[1:]:
                if other["state"] == ShootState.OPEN and matches[0]["state"] == ShootState.OPEN:
                    store.db.execute("UPDATE photos SET shoot_id = ? WHERE shoot_id = ?", (shoot_id, other["id"]))
                    store.db.execute("DELETE FROM shoots WHERE id = ?", (other["id"],))
        store.db.execute("UPDATE photos SET shoot_id = ? WHERE id = ?", (shoot_id, photo_id))
        _refresh(store, shoot_id)
        regroup(store, config, shoot_id)
        # Joining a closed shoot whose lead is not drafted yet: the better frame leads instead.
        leader = store.value("SELECT p.id FROM shoots s JOIN photos p ON p.id = s.leader_photo_id "
                             "WHERE s.id = ? AND p.status = ?", (shoot_id, ANALYZED))
        if leader is not None:
            store.update("shoots", shoot_id, leader_photo_id=_best(store, shoot_id))
    return shoot_id


def close_settled(store: Store, config: Config, *, close_all: bool = False) -> list[int]:
    """Close the open shoots that settled: none of their frames arrived for ingest.shoot_settle_seconds (or at once,
    with `close_all`) and no frame still waiting for vision was taken in their moment. Returns the ids closed."""
    now = timeutil.now()
    settle = timedelta(seconds=config.ingest.shoot_settle_seconds)
    gap = timedelta(seconds=config.ingest.shoot_gap_seconds)
    closed = []
    for shoot in store.all("SELECT * FROM shoots WHERE state = ? ORDER BY id", (ShootState.OPEN.value,)):
        arrived = timeutil.parse(shoot["last_arrival_at"])
        if not close_all and arrived is not None and now - arrived < settle:
            continue
        if _waiting_frames(store, shoot, gap):
            continue
        if close(store, config, shoot["id"]):
            closed.append(shoot["id"])
    return closed


def close(store: Store, config: Config, shoot_id: int) -> bool:
    """Close one shoot: its best distinct frame leads (the one the draft stage drafts). False if already closed."""
    with store.tx():
        if store.value("SELECT state FROM shoots WHERE id = ?", (shoot_id,)) != ShootState.OPEN:
            return False
        regroup(store, config, shoot_id)
        leader = _best(store, shoot_id)
        now = timeutil.iso(timeutil.now())
        store.update("shoots", shoot_id, state=ShootState.CLOSED.value, leader_photo_id=leader, closed_at=now,
                     offers=int(config.drafts.carousel != "never"), updated_at=now)
        frames = store.value("SELECT count(*) FROM photos WHERE shoot_id = ?", (shoot_id,))
        store.event("shoot.closed", f"shoot {shoot_id} closed with {frames} frame(s); photo {leader} leads",
                    photo_id=leader)
    return True


def next_close_in(store: Store, config: Config) -> float | None:
    """Seconds until the next open shoot settles (the daemon wakes then), or None when none is still settling. A
    shoot past its settle time yet open waits for a frame vision has not seen, whose processing re-checks it."""
    now = timeutil.now()
    settle = timedelta(seconds=config.ingest.shoot_settle_seconds)
    first = store.value("SELECT min(last_arrival_at) FROM shoots WHERE state = ? AND julianday(last_arrival_at) > "
                        "julianday(?)", (ShootState.OPEN.value, timeutil.iso_precise(now - settle)))
    if first is None:
        return None
    due = timeutil.parse(first) + settle  # type: ignore[operator]
    return max(0.0, (due - now).total_seconds())


def planned_media(store: Store, config: Config, photo_id: int) -> list[int]:
    """The photos the draft led by `photo_id` holds, the lead first: with carousel = "auto" and a shoot of at least
    CAROUSEL_ENOUGH distinct best shots, up to carousel_max of them (best first); otherwise the photo alone."""
    shoot = store.value("SELECT shoot_id FROM photos WHERE id = ?", (photo_id,))
    if shoot is None or config.drafts.carousel != "auto" or config.drafts.carousel_max < 2:
        return [photo_id]
    rows = store.all(f"SELECT id FROM photos WHERE shoot_id = ? AND status = ? AND near_duplicate_of IS NULL "
                     f"AND id != ? AND id NOT IN ({photos_in_drafts_sql()}) "
                     f"ORDER BY shot_score IS NULL, shot_score DESC, id", (shoot, ANALYZED, photo_id))
    others = [r["id"] for r in rows][: config.drafts.carousel_max - 1]
    return [photo_id, *others] if len(others) + 1 >= CAROUSEL_ENOUGH else [photo_id]


def regroup(store: Store, config: Config, shoot_id: int) -> None:
    """Group the shoot's near-identical frames and point each at its group's best (a frame already in a draft
    stays the one its group is known by). Near-identical: perceptual hashes within ingest.near_duplicate_distance,
    or within three times that while their embeddings agree (cosine >= ingest.near_duplicate_similarity): a frame
    re-framed by a step or two moves its hash further than a re-encoded copy does."""
    marks = ",".join("?" * len(JUDGED))
    frames = store.all(f"SELECT id, status, phash, sha256, shot_score, analysis FROM photos WHERE shoot_id = ? "
                       f"AND status IN ({marks}) ORDER BY id", (shoot_id, *JUDGED))
    if not frames:
        return
    vectors = _vectors(store, frames)
    parent = {f["id"]: f["id"] for f in frames}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    near, loose = config.ingest.near_duplicate_distance, LOOSE * config.ingest.near_duplicate_distance
    for n, a in enumerate(frames):
        for b in frames[n + 1:]:
            if not (a["phash"] and b["phash"]):
                continue
            distance = hash_distance(a["phash"], b["phash"])
            twins = distance <= near
            if not twins and distance <= loose and a["id"] in vectors and b["id"] in vectors:
                twins = float(vectors[a["id"]] @ vectors[b["id"]]) >= config.ingest.near_duplicate_similarity
            if twins:
                parent[root(a["id"])] = root(b["id"])
    groups: dict[int, list[Any]] = {}
    for f in frames:
        groups.setdefault(root(f["id"]), []).append(f)
    for members in groups.values():
        head = max(members, key=lambda f: (f["status"] == PhotoStatus.DRAFTED, f["shot_score"] or 0.0, -f["id"]))
        for f in members:
            twin_of = None if f["id"] == head["id"] else head["id"]
            store.db.execute("UPDATE photos SET near_duplicate_of = ? WHERE id = ?", (twin_of, f["id"]))


def _best(store: Store, shoot_id: int) -> int | None:
    return store.value("SELECT id FROM photos WHERE shoot_id = ? AND status = ? AND near_duplicate_of IS NULL "
                       "ORDER BY shot_score IS NULL, shot_score DESC, id LIMIT 1", (shoot_id, ANALYZED))


def _refresh(store: Store, shoot_id: int) -> None:
    """The shoot's capture-time range and last arrival from its frames."""
    row = store.one("SELECT min(taken_at) AS first, max(taken_at) AS last, max(created_at) AS arrived "
                    "FROM photos WHERE shoot_id = ?", (shoot_id,))
    assert row is not None
    times = [timeutil.parse(t) for (t,) in store.db.execute("SELECT taken_at FROM photos WHERE shoot_id = ?",
                                                              (shoot_id,))]
    first, last = min(t for t in times if t), max(t for t in times if t)
    store.db.execute("UPDATE shoots SET first_taken_at = ?, last_taken_at = ?, last_arrival_at = max(last_arrival_at,"
                     " ?), updated_at = ? WHERE id = ?", (timeutil.iso_precise(first), timeutil.iso_precise(last),
                                                          row["arrived"], timeutil.iso(timeutil.now()), shoot_id))


def _shoots_near(store: Store, taken: datetime, gap: timedelta) -> list[Any]:
    """Shoots whose frames reach within `gap` of `taken`, nearest first (open ones before closed at a tie)."""
    rows = store.all("SELECT * FROM shoots WHERE julianday(first_taken_at) <= julianday(?) "
                     "AND julianday(last_taken_at) >= julianday(?)",
                     (timeutil.iso_precise(taken + gap), timeutil.iso_precise(taken - gap)))

    def distance(s: Any) -> float:
        first, last = timeutil.parse(s["first_taken_at"]), timeutil.parse(s["last_taken_at"])
        assert first is not None and last is not None
        return max(0.0, (first - taken).total_seconds(), (taken - last).total_seconds())

    return sorted(rows, key=lambda s: (distance(s), s["state"] != ShootState.OPEN, s["id"]))


def _waiting_frames(store: Store, shoot: Any, gap: timedelta) -> bool:
    """Whether a frame still waiting for vision (`new`) was taken in the shoot's moment: it may belong to it."""
    first, last = timeutil.parse(shoot["first_taken_at"]), timeutil.parse(shoot["last_taken_at"])
    assert first is not None and last is not None
    return bool(store.value("SELECT 1 FROM photos WHERE status = ? AND origin = 'inbox' AND julianday(taken_at) "
                            "BETWEEN julianday(?) AND julianday(?) LIMIT 1",
                            (PhotoStatus.NEW.value, timeutil.iso_precise(first - gap),
                             timeutil.iso_precise(last + gap))))


def _same_pets(frame: frozenset[str], shoot: frozenset[str]) -> bool:
    """Whether a frame may belong to a shoot by its pets: it shares one, or either knows none (a blurred frame whose
    pet was not recognised is still a frame of its moment); only frames of other pets are kept apart."""
    return bool(frame & shoot) or not frame or not shoot


def _shoot_pets(store: Store, shoot_id: int) -> frozenset[str]:
    ids = [r["id"] for r in store.all("SELECT id FROM photos WHERE shoot_id = ?", (shoot_id,))]
    return frozenset().union(*_pets(store, ids).values()) if ids else frozenset()


def _pets(store: Store, photo_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    ids = list(photo_ids)
    if not ids:
        return {}
    rows = store.all(f"SELECT photo_id, pet_id FROM photo_pets WHERE photo_id IN ({','.join('?' * len(ids))})", ids)
    out: dict[int, set[str]] = {}
    for r in rows:
        out.setdefault(r["photo_id"], set()).add(str(r["pet_id"]))
    return {k: frozenset(v) for k, v in out.items()}


def _vectors(store: Store, frames: list[Any]) -> dict[int, np.ndarray]:
    """Each frame's whole-image embedding from the vision stage's cache (by the embedder that analysed it)."""
    out = {}
    for f in frames:
        embedder = json.loads(f["analysis"] or "{}").get("embedder")
        if not embedder:
            continue
        blob = store.value("SELECT vector FROM embeddings WHERE embedder = ? AND sha256 = ? AND box = ''",
                           (embedder, f["sha256"]))
        if blob is not None:
            vector = np.frombuffer(blob, dtype=np.float32)
            out[f["id"]] = vector / (float(np.linalg.norm(vector)) or 1.0)
    return out
