"""A pawpost home as the release before the media list left it: schema m001..m003, every kind of draft in it.

`build(root)` writes the config and the database with raw SQL only (drafts.photo_id, drafts.alt_text), so the same
code builds it under that release too: `python -m tests.bot.store.old_release record` there wrote
old_release.json, what its `drafts list --json`, `drafts show --json` and `status --json` said about this home.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

NOW = "2026-11-22T10:00:00+00:00"  # the clock of every command run on this home (PAWPOST_FAKE_NOW)
OLD_MIGRATIONS = ("m001_initial", "m002_indexes", "m003_alt_text_and_containers")
RECORDED = Path(__file__).with_name("old_release.json")
SHOWN = (1, 2, 3, 4, 5, 6, 7)  # the drafts whose `drafts show --json` is compared
DATA = "<DATA>"  # the data folder's path in the recorded outputs

CONFIG = """\
[paths]
inbox = "inbox"
data = "data"

[captions]
voice = "playful, first person as the dog"
hashtags = ["#chihuahua"]
max_hashtags = 5

[models]
device = "cpu"
detector = "none"
embedder = "facebook/dinov2-small"
captioner = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"

[approval]
mode = "manual"

[schedule]
timezone = "UTC"
slots = ["09:30", "19:00"]
jitter_minutes = 0
max_posts_per_day = 2

[instagram]
publisher = "dry-run"

[[pets]]
name = "Lola"
species = "dog"

[[pets]]
name = "Max"
species = "cat"
"""


def build(root: Path) -> Path:
    """The home folder `root` with its config and data/pawpost.db; returns the config's path."""
    from bot.store import migrations

    (root / "inbox").mkdir(parents=True, exist_ok=True)
    library = root / "data" / "library" / "2026" / "11"
    library.mkdir(parents=True, exist_ok=True)
    config = root / "pawpost.toml"
    config.write_text(CONFIG)
    db = sqlite3.connect(root / "data" / "pawpost.db", isolation_level=None)
    old = [m for m in migrations.MIGRATIONS if m.__name__ in OLD_MIGRATIONS]
    assert [m.__name__ for m in old] == list(OLD_MIGRATIONS)
    saved = migrations.MIGRATIONS
    migrations.MIGRATIONS = old
    try:
        migrations.migrate(db)
    finally:
        migrations.MIGRATIONS = saved
    db.execute("BEGIN")
    _fill(db, library)
    db.execute("COMMIT")
    db.close()
    return config


def _fill(db: sqlite3.Connection, library: Path) -> None:
    def insert(table: str, **row: Any) -> int:
        cur = db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))
        return int(cur.lastrowid)

    at = "2026-11-20T08:00:00+00:00"
    lola = insert("pets", name="Lola", species="dog", created_at=at)
    max_ = insert("pets", name="Max", species="cat", created_at=at)
    for pet in (lola, max_):  # recognition is set up: status names no setup problem
        insert("pet_references", pet_id=pet, sha256=f"ref{pet}", path=f"pets/{pet}.jpg", origin="added", created_at=at)
    photos = {}
    for n, (name, status) in enumerate([
        ("IMG_0401.HEIC", "drafted"), ("IMG_0402.jpg", "drafted"), ("IMG_0403.jpg", "drafted"),
        ("IMG_0404.jpg", "drafted"), ("IMG_0405.jpg", "drafted"), ("IMG_0406.jpg", "drafted"),
        ("IMG_0407.jpg", "drafted"), ("IMG_0408.jpg", "analyzed"), ("broken.jpg", "quarantined"),
        ("IMG_0401 copy.HEIC", "duplicate"),
    ], start=1):
        path = f"library/2026/11/{n:04d}.jpg" if status not in ("quarantined", "duplicate") else None
        if path:
            (library / f"{n:04d}.jpg").write_bytes(b"\xff\xd8\xff\xd9")
        photos[n] = insert(
            "photos", sha256=f"{n:064x}", status=status, source_name=name, path=path, format="JPEG", width=1080,
            height=1350, size_bytes=4, taken_at=f"2026-11-19T1{n % 10}:00:00+00:00",
            reason="not an image (cannot identify image file)" if status == "quarantined" else None,
            duplicate_of=1 if status == "duplicate" else None, hint="snow day" if n == 2 else None,
            created_at=at, updated_at=at)
    for photo, pet, confidence in [(1, lola, 0.93), (2, lola, 0.88), (3, lola, 0.91), (4, lola, 0.95),
                                   (5, max_, 0.81), (6, lola, 0.7), (7, max_, 0.9), (7, lola, 0.9)]:
        insert("photo_pets", photo_id=photos[photo], pet_id=pet, confidence=confidence, source="model")

    def draft(photo: int, status: str, **fields: Any) -> int:
        fields = {"caption": f"Photo {photo} day 🐶 #chihuahua", "chosen": 0, **fields}
        return insert("drafts", photo_id=photos[photo], status=status, prompt="the prompt", seed=photo,
                      model_version="base", confidence=0.9, created_at=at, updated_at=at, **fields)

    posted = draft(1, "posted", approved_at="2026-11-20T09:00:00+00:00", posted_at="2026-11-21T09:30:00+00:00",
                   media_id="3141592653", media_code="Cposted1", media_url="https://www.instagram.com/p/Cposted1/",
                   attempts=1, description="a small dog on a red blanket")
    pending = draft(2, "pending", hint="snow day", alt_text="Lola, a fawn chihuahua, asleep in the snow.",
                    description="a dog lying in snow", caption="Snow is my blanket now ❄️ #chihuahua")
    approved = draft(3, "approved", approved_at="2026-11-21T12:00:00+00:00",
                     scheduled_for="2026-11-23T19:00:00+00:00", description="a dog wearing a yellow raincoat",
                     edited=1, generated_caption="Raincoat day #chihuahua", chosen=None)
    unsettled = draft(4, "publishing", approved_at="2026-11-21T12:00:00+00:00", attempts=1,
                      error="ReadTimeout: no answer (Instagram did not say whether it was posted; pawpost looks for "
                            "it on the account and never sends it again by itself: 'pawpost drafts resend 4' once "
                            "you checked)")
    failed = draft(5, "failed", approved_at="2026-11-21T12:00:00+00:00", attempts=1,
                   error="BadContent: the caption has 31 hashtags; Instagram allows 30")
    rejected = draft(6, "rejected", reject_reason="blurry")
    no_caption = draft(7, "pending", caption=None, chosen=None,
                       note="No caption passed the rules after 2 round(s) of 8 candidates (most often: too long).")
    assert (posted, pending, approved, unsettled, failed, rejected, no_caption) == SHOWN

    for draft_id in SHOWN:
        for position, text in enumerate([f"candidate {draft_id}.{i}" for i in range(3)]):
            insert("candidates", draft_id=draft_id, position=position, text=text, score=1 - position / 10,
                   generation=0)
    for position, (text, passed, reason) in enumerate([
        ("Snow is my blanket now ❄️ #chihuahua", 1, None), ("Cold paws, warm heart #chihuahua", 1, None),
        ("I am a dog. I am a dog.", 0, "it repeats itself"),
    ]):
        insert("candidates", draft_id=pending, position=position, text=text, score=0.5, passed=passed, reason=reason,
               generation=1)
    insert("candidates", draft_id=no_caption, position=3, text="far too long " * 30, passed=0, reason="too long",
           generation=0)

    insert("attempts", draft_id=posted, nonce="a" * 32, started_at="2026-11-21T09:30:00+00:00",
           finished_at="2026-11-21T09:30:04+00:00", outcome="posted", media_id="3141592653", media_code="Cposted1")
    insert("attempts", draft_id=unsettled, nonce="b" * 32, started_at="2026-11-22T09:30:00+00:00",
           finished_at="2026-11-22T09:31:00+00:00", error_class="ReadTimeout", error="no answer",
           container_id="17895695668004550")
    insert("attempts", draft_id=failed, nonce="c" * 32, started_at="2026-11-21T19:00:00+00:00",
           finished_at="2026-11-21T19:00:02+00:00", outcome="failed", error_class="BadContent",
           error="the caption has 31 hashtags")
    db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ("unsettled:4", json.dumps({
        "nonce": "b" * 32, "sent_at": "2026-11-22T09:30:02+00:00", "reason": "ReadTimeout: no answer",
        "error_class": "ReadTimeout", "unknown_at": "2026-11-22T09:31:00+00:00", "looks": 1,
        "last_look": "2026-11-22T09:33:00+00:00", "next_look": "2026-11-22T09:36:00+00:00"}), NOW))
    db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ("last_publish_error", json.dumps({
        "at": "2026-11-22T09:31:00+00:00", "draft_id": 4, "kind": "unknown", "outcome": "unknown",
        "step": "create", "error_class": "ReadTimeout", "message": "no answer", "advice": None}), NOW))
    db.execute("INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
               ("cooldown_until", json.dumps("2026-11-22T12:00:00+00:00"), NOW))
    for kind, draft_id, photo_id, message in [
        ("photo.new", None, 1, "IMG_0401.HEIC added to the library as photo 1"),
        ("draft.pending", posted, 1, "draft 1 for photo 1: pending (approval.mode = manual)"),
        ("draft.approved", posted, None, "draft 1: pending -> approved"),
        ("draft.publishing", posted, None, "draft 1: approved -> publishing"),
        ("post.posted", posted, None, "draft 1 posted: https://www.instagram.com/p/Cposted1/"),
        ("post.unsettled", unsettled, None, "draft 4: ReadTimeout: no answer"),
        ("post.failed", failed, None, "draft 5 failed: the caption has 31 hashtags"),
        ("draft.rejected", rejected, None, "draft 6: pending -> rejected"),
    ]:
        insert("events", at=at, level="info", kind=kind, photo_id=photo_id, draft_id=draft_id, message=message)
    insert("imported_posts", media_id="2718281828", media_code="Cold1", taken_at="2025-06-01T10:00:00+00:00",
           caption="An old post #chihuahua", photo_id=None, imported_at=at)


def outputs(config: Path) -> dict[str, Any]:
    """What the CLI says about the home: drafts list, every draft shown, status (all --json), data folder as DATA."""
    import bot

    data = str((config.parent / "data").resolve())
    repo = Path(bot.__file__).resolve().parents[1]  # the pawpost under test (the old release's, when recording)

    def run(*args: str) -> Any:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
        env["PAWPOST_FAKE_NOW"] = NOW
        done = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args], capture_output=True,
                              text=True, env=env, timeout=120, cwd=repo)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.replace(data, DATA))

    return {"list": run("drafts", "list", "--json"),
            "show": {str(i): run("drafts", "show", str(i), "--json") for i in SHOWN},
            "status": run("status", "--json")}


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        RECORDED.write_text(json.dumps(outputs(build(Path(tmp))), indent=1, ensure_ascii=False) + "\n")
