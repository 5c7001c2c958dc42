"""The database schema as an ordered list of migrations, each applied once and recorded.

Add a change as a new function at the end of MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from bot.errors import PawpostError
from bot.store.shoot_schema import m006_shoots
from bot.store.sqlscript import run_script
from bot.store.video_schema import m007_videos

Migration = Callable[[sqlite3.Connection], None]


def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE photos (
            id            INTEGER PRIMARY KEY,
            sha256        TEXT NOT NULL,
            status        TEXT NOT NULL CHECK (status IN ('new','analyzed','drafted','quarantined','duplicate')),
            origin        TEXT NOT NULL DEFAULT 'inbox' CHECK (origin IN ('inbox','imported')),
            source_name   TEXT NOT NULL,          -- the file's name (relative to the inbox) when it arrived
            path          TEXT,                   -- relative to the data folder: library/... or quarantine/...
            format        TEXT,                   -- JPEG, PNG, WEBP, HEIF
            width         INTEGER,
            height        INTEGER,
            size_bytes    INTEGER,
            taken_at      TEXT,                   -- EXIF capture time, UTC ISO 8601
            phash         TEXT,                   -- perceptual hash (hex) for near-duplicates
            has_gps       INTEGER NOT NULL DEFAULT 0,
            hint          TEXT,                   -- the owner's note (IMG_0412.txt beside IMG_0412.HEIC)
            reason        TEXT,                   -- why it was quarantined
            duplicate_of  INTEGER REFERENCES photos(id),
            analysis      TEXT,                   -- JSON: detections, matches, whole_image, unknown count
            error         TEXT,                   -- why processing last failed (model missing, ...)
            attempts      INTEGER NOT NULL DEFAULT 0,
            retry_after   TEXT,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        );
        CREATE INDEX photos_sha256 ON photos(sha256);

        CREATE TABLE pets (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
            species    TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        CREATE TABLE pet_references (
            id         INTEGER PRIMARY KEY,
            pet_id     INTEGER NOT NULL REFERENCES pets(id) ON DELETE CASCADE,
            sha256     TEXT NOT NULL,
            path       TEXT NOT NULL,
            origin     TEXT NOT NULL CHECK (origin IN ('config','added','correction')),
            photo_id   INTEGER REFERENCES photos(id),
            box        TEXT NOT NULL DEFAULT '',  -- JSON [x0,y0,x1,y1] of the animal, '' for the whole image
            created_at TEXT NOT NULL,
            UNIQUE (pet_id, sha256, box)
        );

        -- Embedding cache: recomputed when the embedder or the file changes, never otherwise.
        CREATE TABLE embeddings (
            id         INTEGER PRIMARY KEY,
            embedder   TEXT NOT NULL,
            sha256     TEXT NOT NULL,
            box        TEXT NOT NULL DEFAULT '',
            dim        INTEGER NOT NULL,
            vector     BLOB NOT NULL,             -- float32, L2-normalised
            created_at TEXT NOT NULL,
            UNIQUE (embedder, sha256, box)
        );

        CREATE TABLE photo_pets (
            photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            pet_id     INTEGER NOT NULL REFERENCES pets(id) ON DELETE CASCADE,
            confidence REAL NOT NULL,
            box        TEXT NOT NULL DEFAULT '',
            source     TEXT NOT NULL CHECK (source IN ('model','owner')),
            PRIMARY KEY (photo_id, pet_id)
        );

        CREATE TABLE drafts (
            id               INTEGER PRIMARY KEY,
            photo_id         INTEGER NOT NULL UNIQUE REFERENCES photos(id),
            status           TEXT NOT NULL
                             CHECK (status IN ('pending','approved','publishing','posted','rejected','failed')),
            caption          TEXT,                -- the chosen caption, as it will be (or was) posted
            chosen           INTEGER,             -- index of the chosen candidate, NULL when owner-written
            edited           INTEGER NOT NULL DEFAULT 0,
            generated_caption TEXT,               -- the model's caption before the owner's edit
            prompt           TEXT,                -- the full prompt, for debugging
            seed             INTEGER,
            model_version    TEXT,
            note             TEXT,                -- a message for the owner (e.g. no candidate passed the rules)
            hint             TEXT,
            start_text       TEXT,
            confidence       REAL,
            scheduled_for    TEXT,                -- approved with --at for this time
            approved_at      TEXT,
            posted_at        TEXT,
            media_id         TEXT,
            media_code       TEXT,
            media_url        TEXT,
            first_comment    TEXT,                -- hashtags to post as the first comment
            comment_id       TEXT,
            error            TEXT,                -- "ErrorClass: message" when failed, or the last transient error
            reject_reason    TEXT,
            retry_after      TEXT,
            attempts         INTEGER NOT NULL DEFAULT 0,
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL
        );

        CREATE TABLE candidates (
            id         INTEGER PRIMARY KEY,
            draft_id   INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
            position   INTEGER NOT NULL,
            text       TEXT NOT NULL,
            score      REAL,
            passed     INTEGER NOT NULL DEFAULT 1,
            reason     TEXT,                      -- why a rule refused it
            generation INTEGER NOT NULL DEFAULT 0,
            UNIQUE (draft_id, generation, position)
        );

        -- One row per publish attempt, written before anything is sent (exactly-once protocol).
        CREATE TABLE attempts (
            id          INTEGER PRIMARY KEY,
            draft_id    INTEGER NOT NULL REFERENCES drafts(id),
            nonce       TEXT NOT NULL UNIQUE,
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            outcome     TEXT NOT NULL DEFAULT 'pending'
                        CHECK (outcome IN ('pending','posted','failed','not_found','retry','reconciled')),
            error_class TEXT,
            error       TEXT,
            media_id    TEXT,
            media_code  TEXT
        );

        CREATE TABLE events (
            id       INTEGER PRIMARY KEY,
            at       TEXT NOT NULL,
            level    TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('info','warning','error')),
            kind     TEXT NOT NULL,
            photo_id INTEGER,
            draft_id INTEGER,
            message  TEXT NOT NULL
        );

        -- Small persisted facts: cooldown_until, fatal state, last model error, ...
        CREATE TABLE kv (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- The account's posts from before pawpost, imported for retraining.
        CREATE TABLE imported_posts (
            media_id    TEXT PRIMARY KEY,
            media_code  TEXT,
            taken_at    TEXT,
            caption     TEXT NOT NULL DEFAULT '',
            photo_id    INTEGER REFERENCES photos(id),
            imported_at TEXT NOT NULL
        );
        """
    )


def m002_indexes(db: sqlite3.Connection) -> None:
    # Every stage polls rows by state; the listing commands sort by creation time.
    run_script(
        db,
        """
        CREATE INDEX photos_status ON photos(status, id);
        CREATE INDEX drafts_status ON drafts(status, id);
        CREATE INDEX events_at ON events(at);
        CREATE INDEX attempts_draft ON attempts(draft_id);
        """
    )


def m003_alt_text_and_containers(db: sqlite3.Connection) -> None:
    # Alt text: the owner's own (NULL = written from `description` and the pets when shown or posted, so a pet
    # correction never leaves a wrong name in it). container_id: the official API's media container, recorded
    # before media_publish so an unconfirmed publish can be traced.
    run_script(
        db,
        """
        ALTER TABLE drafts ADD COLUMN alt_text TEXT;
        ALTER TABLE drafts ADD COLUMN description TEXT;
        ALTER TABLE attempts ADD COLUMN container_id TEXT;
        """
    )


# The drafts table as m004 leaves it: a draft's caption, state and schedule; its media live in draft_media.
_DRAFT_COLUMNS = (
    "id, status, caption, chosen, edited, generated_caption, prompt, seed, model_version, note, hint, start_text, "
    "confidence, scheduled_for, approved_at, posted_at, media_id, media_code, media_url, first_comment, comment_id, "
    "error, reject_reason, retry_after, attempts, created_at, updated_at"
)


def m004_draft_media(db: sqlite3.Connection) -> None:
    # A post holds 1-10 media in order: draft_media replaces drafts.photo_id, and the alt text (the owner's) and the
    # describer's description move to the medium they describe. A photo belongs to at most one draft, ever, whatever
    # that draft's state (UNIQUE photo_id, as drafts.photo_id was): a drafted photo is never drafted again by itself,
    # and `pawpost restore` matches a photo to its one draft. crop: the owner's frame, JSON [x0,y0,x1,y1] of the
    # upright original, NULL = framed around the pets. attempt_media holds one publish attempt's per-medium
    # containers (a carousel's children); attempts.container_id stays the container that is published.
    run_script(
        db,
        f"""
        CREATE TABLE draft_media (
            id          INTEGER PRIMARY KEY,
            draft_id    INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
            position    INTEGER NOT NULL CHECK (position BETWEEN 0 AND 9),
            photo_id    INTEGER NOT NULL UNIQUE REFERENCES photos(id),
            crop        TEXT,
            alt_text    TEXT,
            description TEXT,
            UNIQUE (draft_id, position)
        );
        INSERT INTO draft_media (draft_id, position, photo_id, alt_text, description)
            SELECT id, 0, photo_id, alt_text, description FROM drafts ORDER BY id;

        CREATE TABLE drafts_rebuilt (
            id               INTEGER PRIMARY KEY,
            status           TEXT NOT NULL
                             CHECK (status IN ('pending','approved','publishing','posted','rejected','failed')),
            caption          TEXT,
            chosen           INTEGER,
            edited           INTEGER NOT NULL DEFAULT 0,
            generated_caption TEXT,
            prompt           TEXT,
            seed             INTEGER,
            model_version    TEXT,
            note             TEXT,
            hint             TEXT,
            start_text       TEXT,
            confidence       REAL,
            scheduled_for    TEXT,
            approved_at      TEXT,
            posted_at        TEXT,
            media_id         TEXT,
            media_code       TEXT,
            media_url        TEXT,
            first_comment    TEXT,
            comment_id       TEXT,
            error            TEXT,
            reject_reason    TEXT,
            retry_after      TEXT,
            attempts         INTEGER NOT NULL DEFAULT 0,
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL
        );
        INSERT INTO drafts_rebuilt ({_DRAFT_COLUMNS}) SELECT {_DRAFT_COLUMNS} FROM drafts ORDER BY id;
        DROP TABLE drafts;
        ALTER TABLE drafts_rebuilt RENAME TO drafts;
        CREATE INDEX drafts_status ON drafts(status, id);

        CREATE TABLE attempt_media (
            attempt_id   INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
            position     INTEGER NOT NULL CHECK (position BETWEEN 0 AND 9),
            container_id TEXT NOT NULL,
            PRIMARY KEY (attempt_id, position)
        );
        """
    )


# The tables whose references to a rebuilt table are checked before the rebuild commits.
m004_draft_media.rebuilds_tables = ("draft_media", "candidates", "attempts")  # type: ignore[attr-defined]


def m005_publishing_state(db: sqlite3.Connection) -> None:
    # Where a `publishing` draft stands (bot.store.states.PublishState) becomes a column, NULL in every other state.
    # It was read back from the keys of the draft's kv record (`unsettled:<id>`): a flag for a post handed to the
    # owner, `next_look` once the outcome was unknown, `sent_at` once the post-making request left. The record keeps
    # the facts that have no column (why, the looks); a draft left publishing with no record at all was sent by a
    # pawpost from before these records, so whether it was posted is unknown.
    db.execute("ALTER TABLE drafts ADD COLUMN publish_state TEXT "
               "CHECK (publish_state IN ('started', 'sent', 'unknown', 'with_owner'))")
    records = {}
    for key, value in db.execute("SELECT key, value FROM kv WHERE key LIKE 'unsettled:%'").fetchall():
        suffix = key.partition(":")[2]
        record = json.loads(value)
        if suffix.isdigit() and isinstance(record, dict):
            records[int(suffix)] = (key, record)
    for (draft_id,) in db.execute("SELECT id FROM drafts WHERE status = 'publishing'").fetchall():
        key, record = records.get(draft_id, (None, None))
        if record is None:
            state = "unknown"
        elif record.get("with_owner"):
            state = "with_owner"
        elif record.get("next_look") or record.get("unknown_at"):
            state = "unknown"
        elif record.get("sent_at"):
            state = "sent"
        else:
            state = "started"
        db.execute("UPDATE drafts SET publish_state = ? WHERE id = ?", (state, draft_id))
        if record is not None and "with_owner" in record:
            record = {k: v for k, v in record.items() if k != "with_owner"}
            db.execute("UPDATE kv SET value = ? WHERE key = ?", (json.dumps(record), key))


MIGRATIONS: list[Migration] = [m001_initial, m002_indexes, m003_alt_text_and_containers, m004_draft_media,
                               m005_publishing_state, m006_shoots, m007_videos]


def migrate(db: sqlite3.Connection, *, before: Callable[[], object] | None = None) -> list[str]:
    """Apply the migrations this database lacks, in order, each in its own transaction.

    `before` runs once before the first one, when the database already holds a schema (the pre-migration backup).
    A database that a newer pawpost has migrated further is refused (PawpostError), untouched.
    """
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    newer = sorted(applied - {m.__name__ for m in MIGRATIONS})
    if newer:
        # A newer pawpost changed the schema in ways this one does not know: writing to it could lose data.
        file = db.execute("PRAGMA database_list").fetchone()[2] or "in memory"
        raise PawpostError(f"the database {file} was upgraded by a newer version of pawpost (it has migration "
                           f"{', '.join(newer)}, unknown to this one); run that newer version")
    done = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name in applied:
            continue
        if before is not None and applied:
            before()
            before = None
        rebuilds: tuple[str, ...] = getattr(migration, "rebuilds_tables", ())
        enforced = db.execute("PRAGMA foreign_keys").fetchone()[0]
        if rebuilds:
            # SQLite's way to rebuild a table (its ALTER TABLE page): with enforcement on, dropping the old table
            # would delete the rows that refer to it. Switched off outside the transaction (it cannot change
            # inside one), checked before the commit, restored after.
            db.execute("PRAGMA foreign_keys = OFF")
        try:
            if _apply(db, name, migration, check=rebuilds):
                done.append(name)
        finally:
            if rebuilds:
                db.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")
    return done


def _apply(db: sqlite3.Connection, name: str, migration: Migration, *, check: tuple[str, ...]) -> bool:
    """Run one migration and record it, in one transaction; False when another process applied it first."""
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have applied it while we waited for the lock.
        if db.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
            db.execute("ROLLBACK")
            return False
        migration(db)
        broken = [row for table in check for row in db.execute(f"PRAGMA foreign_key_check({table})")]
        if broken:
            raise PawpostError(f"migration {name} would leave {len(broken)} row(s) pointing at nothing "
                               f"(first: {tuple(broken[0])}); the database was left as it was")
        db.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%S+00:00'))",
            (name,),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return True
