"""bot/ingest/photo_queue.py: which photos are due in a state, deferral with backoff, a model that cannot load, and the
photos that wait with an error (what `status` and `pawpost ingest` list)."""

from __future__ import annotations

from datetime import timedelta

from bot import timeutil
from bot.errors import ModelUnavailable
from bot.ingest.photo_queue import (
    MAX_BACKOFF,
    defer_photos,
    due_photos,
    model_failed,
    next_retry,
    pending_counts,
    retry_deferred_now,
    waiting_with_error,
)
from bot.runtime.model_errors import model_errors
from bot.store.database import Store
from bot.store.states import PhotoStatus

NOW = "2026-11-22T10:00:00+00:00"


def add_photo(store: Store, status: str = "new", name: str = "a.jpg", **fields: object) -> int:
    return store.insert("photos", sha256=f"sha-{name}-{status}-{len(store.all('SELECT id FROM photos'))}",
                        status=status, source_name=name, created_at=NOW, updated_at=NOW, **fields)


def test_imported_photos_are_analyzed_but_never_drafted(store: Store) -> None:
    inbox = add_photo(store, "analyzed")
    imported = store.insert("photos", sha256="imp", status="analyzed", origin="imported", source_name="old.jpg",
                            created_at=NOW, updated_at=NOW)
    fresh_import = store.insert("photos", sha256="imp2", status="new", origin="imported", source_name="o.jpg",
                                created_at=NOW, updated_at=NOW)
    assert due_photos(store, PhotoStatus.ANALYZED) == [inbox]
    assert imported not in due_photos(store, PhotoStatus.ANALYZED)
    assert due_photos(store, PhotoStatus.NEW) == [fresh_import]


def test_due_photos_are_oldest_first_and_skip_those_waiting_for_a_retry(store: Store) -> None:
    first, second, third = (add_photo(store, name=f"{i}.jpg") for i in range(3))
    add_photo(store, "analyzed", name="other.jpg")
    defer_photos(store, [second], "the file could not be read")
    assert due_photos(store, PhotoStatus.NEW) == [first, third]
    assert due_photos(store, PhotoStatus.NEW, limit=1) == [first]


def test_among_keeps_only_the_given_photos_still_due(store: Store) -> None:
    """What the pipeline asks after a failed batch: which of its own photos still wait for the stage."""
    a, b, c = (add_photo(store, name=f"{i}.jpg") for i in range(3))
    store.set_photo_status(a, PhotoStatus.ANALYZED)
    defer_photos(store, [b], "broken")
    assert due_photos(store, PhotoStatus.NEW, among=[a, b, c]) == [c]
    assert due_photos(store, PhotoStatus.NEW, among=[a, b]) == []
    assert due_photos(store, PhotoStatus.NEW, among=[]) == []
    assert due_photos(store, PhotoStatus.ANALYZED, among=[a, c]) == [a]


def test_deferral_keeps_the_state_and_backs_off_longer_each_time(store: Store) -> None:
    photo = add_photo(store)
    waits = []
    for _ in range(12):
        before = timeutil.now()
        defer_photos(store, [photo], "the model said no")
        row = store.photo(photo)
        waits.append(timeutil.parse(row["retry_after"]) - before)
    row = store.photo(photo)
    assert row["status"] == "new" and row["error"] == "the model said no" and row["attempts"] == 12
    # 2, 4, 8, ... minutes, never more than MAX_BACKOFF (times are stored to the second).
    assert [round(w / timedelta(minutes=1)) for w in waits] == [2, 4, 8, 16, 32] + [MAX_BACKOFF // timedelta(
        minutes=1)] * 7
    assert store.value("SELECT count(*) FROM events WHERE photo_id = ? AND kind = 'photo.deferred'", (photo,)) == 12


def test_a_model_that_cannot_load_is_remembered_and_its_photos_wait(store: Store) -> None:
    photos = [add_photo(store, name=f"{i}.jpg") for i in range(2)]
    model_failed(store, ModelUnavailable("captioner", "no-such-model", "no such folder"), photos)
    assert model_errors(store, ["captioner"])["captioner"]
    assert due_photos(store, PhotoStatus.NEW) == []
    assert all("no such folder" in store.photo(p)["error"] for p in photos)


def test_waiting_with_error_lists_only_waiting_photos_oldest_first(store: Store) -> None:
    waiting = [add_photo(store, name=f"w{i}.jpg") for i in range(3)]
    analyzed = add_photo(store, "analyzed", name="a.jpg")
    clean = add_photo(store, name="clean.jpg")
    done = add_photo(store, "drafted", name="done.jpg", error="an old error")
    defer_photos(store, [analyzed, *reversed(waiting)], "cannot read it")
    rows = waiting_with_error(store)
    assert [r["id"] for r in rows] == [*waiting, analyzed]
    assert clean not in [r["id"] for r in rows] and done not in [r["id"] for r in rows]
    assert set(rows[0]) == {"id", "source_name", "status", "error", "attempts", "retry_after"}
    assert rows[0]["source_name"] == "w0.jpg" and rows[-1]["status"] == "analyzed"
    assert [r["id"] for r in waiting_with_error(store, limit=2)] == waiting[:2]


def test_counts_next_retry_and_retrying_now(store: Store) -> None:
    assert pending_counts(store) == {"new": 0, "analyzed": 0} and next_retry(store) is None
    new = add_photo(store, name="n.jpg")
    analyzed = add_photo(store, "analyzed", name="a.jpg")
    add_photo(store, "drafted", name="d.jpg")
    defer_photos(store, [new, analyzed], "busy")
    assert pending_counts(store) == {"new": 1, "analyzed": 1}
    assert next_retry(store) == min(store.photo(new)["retry_after"], store.photo(analyzed)["retry_after"])
    assert retry_deferred_now(store) == 2
    assert due_photos(store, PhotoStatus.NEW) == [new] and due_photos(store, PhotoStatus.ANALYZED) == [analyzed]
    assert store.photo(new)["attempts"] == 1  # the count stays: failing again backs off as long as before
