"""The store: state machines, atomic transitions, concurrent writers (migrations: test_migrations.py)."""

from __future__ import annotations

import itertools
import multiprocessing
import time

import pytest

from bot import timeutil
from bot.drafts import media
from bot.errors import IllegalTransition, NotFound, PawpostError
from bot.store.database import Store
from bot.store.states import DRAFT_TRANSITIONS, PHOTO_TRANSITIONS, DraftStatus, PhotoStatus

NOW = "2026-11-22T10:00:00+00:00"


def add_photo(store: Store, status: str = "new", sha: str | None = None) -> int:
    return store.insert("photos", sha256=sha or f"sha-{time.monotonic_ns()}", status=status, source_name="a.jpg",
                        created_at=NOW, updated_at=NOW)


def add_draft(store: Store, status: str = "pending") -> int:
    photo = add_photo(store, "drafted")
    return media.add_draft(store, [photo], status=status, caption="hi", created_at=NOW, updated_at=NOW)


def test_pragmas(store: Store) -> None:
    assert store.value("PRAGMA journal_mode") == "wal"
    assert store.value("PRAGMA foreign_keys") == 1
    assert store.value("PRAGMA busy_timeout") >= 10_000


@pytest.mark.parametrize(("current", "target"), list(itertools.product(PhotoStatus, PhotoStatus)))
def test_every_photo_transition(store: Store, current: PhotoStatus, target: PhotoStatus) -> None:
    photo = add_photo(store, current.value)
    if target in PHOTO_TRANSITIONS[current]:
        store.set_photo_status(photo, target)
        assert store.photo(photo)["status"] == target
    else:
        with pytest.raises(IllegalTransition):
            store.set_photo_status(photo, target)
        assert store.photo(photo)["status"] == current


@pytest.mark.parametrize(("current", "target"), list(itertools.product(DraftStatus, DraftStatus)))
def test_every_draft_transition(store: Store, current: DraftStatus, target: DraftStatus) -> None:
    draft = add_draft(store, current.value)
    if target in DRAFT_TRANSITIONS[current]:
        store.set_draft_status(draft, target, error="x")
        row = store.draft(draft)
        assert row["status"] == target and row["error"] == "x"
    else:
        with pytest.raises(IllegalTransition):
            store.set_draft_status(draft, target, error="x")
        row = store.draft(draft)
        assert row["status"] == current and row["error"] is None


def test_contract_transitions_are_exactly_the_architecture() -> None:
    legal = {(a.value, b.value) for a, targets in DRAFT_TRANSITIONS.items() for b in targets if a != b}
    assert legal == {("pending", "approved"), ("approved", "publishing"), ("publishing", "posted"),
                     ("pending", "rejected"), ("publishing", "failed"), ("publishing", "approved"),
                     ("failed", "approved")}
    legal = {(a.value, b.value) for a, targets in PHOTO_TRANSITIONS.items() for b in targets if a != b}
    assert legal == {("new", "analyzed"), ("analyzed", "drafted")}


def test_expect_guards_against_a_concurrent_change(store: Store) -> None:
    draft = add_draft(store, "approved")
    with pytest.raises(PawpostError, match="is approved, not pending"):
        store.set_draft_status(draft, "rejected", expect="pending")
    with pytest.raises(NotFound):
        store.set_draft_status(9999, "approved")


def test_transition_is_atomic_with_its_event(store: Store) -> None:
    draft = add_draft(store, "pending")
    with pytest.raises(RuntimeError), store.tx():
        store.set_draft_status(draft, "approved")
        raise RuntimeError("crash in the middle")
    assert store.draft(draft)["status"] == "pending"
    assert store.value("SELECT count(*) FROM events WHERE draft_id = ?", (draft,)) == 0
    store.set_draft_status(draft, "approved")
    assert store.value("SELECT kind FROM events WHERE draft_id = ?", (draft,)) == "draft.approved"


def test_kv_roundtrip(store: Store) -> None:
    assert store.get("cooldown_until") is None
    store.put("cooldown_until", NOW)
    assert store.get("cooldown_until") == NOW
    store.put("cooldown_until", None)
    assert store.get("cooldown_until", "none") == "none"


def _writer(db_path: str, worker: int, seconds: float, out: multiprocessing.Queue) -> None:
    store = Store(db_path)
    written = 0
    errors = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with store.tx():
                photo = store.insert("photos", sha256=f"w{worker}-{written}", status="new", source_name="x.jpg",
                                     created_at=NOW, updated_at=NOW)
                store.set_photo_status(photo, "analyzed")
                store.event("test", f"worker {worker} row {written}", photo_id=photo)
            written += 1
        except Exception as exc:  # any "database is locked" is a failure of the store
            errors.append(repr(exc))
    out.put((worker, written, errors))


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(store.path), w, 3.0, out)) for w in range(2)]
    for p in procs:
        p.start()
    # This process reads (like the CLI) while the others write.
    reads = 0
    while any(p.is_alive() for p in procs):
        store.counts()
        reads += 1
        time.sleep(0.01)
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    assert all(not errors for _, _, errors in results), results
    total = sum(written for _, written, _ in results)
    assert total > 20 and reads > 0
    assert store.value("SELECT count(*) FROM photos WHERE status = 'analyzed'") == total
    assert store.value("SELECT count(*) FROM events WHERE kind = 'test'") == total


def test_counts_have_every_state(store: Store) -> None:
    add_photo(store, "quarantined")
    add_draft(store, "approved")
    counts = store.counts()
    assert set(counts["photos"]) == {s.value for s in PhotoStatus}
    assert counts["photos"]["quarantined"] == 1 and counts["photos"]["drafted"] == 1
    assert counts["drafts"]["approved"] == 1 and counts["drafts"]["posted"] == 0


def test_times_are_iso_with_offset() -> None:
    assert timeutil.iso(timeutil.parse(NOW)) == NOW
    with pytest.raises(ValueError):
        from datetime import datetime
        timeutil.iso(datetime(2026, 1, 1))
