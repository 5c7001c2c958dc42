"""The owner's pets and their reference photos: enrolment from `[[pets]] photos` folders and `pets add`.

Each reference is the best-detected animal in a photo (or the whole photo); its embedding is cached per embedder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bot.vision.cache as cache
from bot import timeutil
from bot.config import Config, PetConfig
from bot.errors import NotFound, PawpostError
from bot.files import write_atomic
from bot.imagefiles import image_files
from bot.store.database import Store
from bot.vision.images import file_sha256, open_image
from bot.vision.matching import References
from bot.vision.threshold import threshold_for


@dataclass
class SyncResult:
    """What enrolment did: reference photos added and removed, embeddings computed or taken from the cache."""

    references: int
    added: int
    removed: int
    embedded: int
    cached: int
    skipped: list[str]  # reference files that could not be read, with why

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AddedReference:
    path: str  # the copy under data/pets/
    source: str
    box: list[float] | None  # the animal used; None: the whole photo (nothing detected)
    new: bool  # False when this photo already was a reference of the pet


def configured_pet(config: Config, name: str) -> PetConfig:
    pet = config.pet(name)
    if pet is None:
        known = ", ".join(p.name for p in config.pets) or "none"
        raise NotFound(f"no pet named {name!r} in the config (pets: {known}); add a [[pets]] table for it first")
    return pet


def ensure_pets(store: Store, config: Config) -> dict[str, int]:
    """A `pets` row for every configured pet (species kept up to date); returns name -> id."""
    ids = {}
    with store.tx():
        for pet in config.pets:
            row = store.one("SELECT id, name, species FROM pets WHERE name = ?", (pet.name,))
            if row is None:
                ids[pet.name] = store.insert("pets", name=pet.name, species=pet.species,
                                             created_at=timeutil.iso(timeutil.now()))
            else:
                if row["species"] != pet.species or row["name"] != pet.name:
                    store.update("pets", row["id"], species=pet.species, name=pet.name)
                ids[pet.name] = row["id"]
    return ids


def sync_references(store: Store, config: Config, vision: Any) -> SyncResult:
    """Bring the references in line with the pets' folders and embed any the cache lacks.

    A new or changed file is detected once (its animal's box is stored); a file gone from its folder stops
    being a reference. Models load only when something is new.
    """
    ids = ensure_pets(store, config)
    added = removed = 0
    skipped: list[str] = []
    todo: list[tuple[int, str, Path, Any]] = []
    for pet in config.pets:
        current: dict[str, Path] = {}
        for path in image_files(pet.photos):
            current.setdefault(file_sha256(path), path)
        rows = store.all("SELECT id, sha256, path FROM pet_references WHERE pet_id = ? AND origin = 'config'",
                         (ids[pet.name],))
        known = {r["sha256"] for r in rows}
        with store.tx():
            for r in rows:
                if r["sha256"] not in current:
                    store.db.execute("DELETE FROM pet_references WHERE id = ?", (r["id"],))
                    removed += 1
                elif r["path"] != str(current[r["sha256"]]):  # renamed or moved within the folder
                    store.update("pet_references", r["id"], path=str(current[r["sha256"]]))
        for sha, path in current.items():
            if sha in known:
                continue
            try:
                todo.append((ids[pet.name], sha, path, open_image(path, config.ingest.max_megapixels)))
            except PawpostError as exc:
                skipped.append(str(exc))
    if todo:
        found = vision.detect([image for *_, image in todo])
        now = timeutil.iso(timeutil.now())
        with store.tx() as db:
            for (pet_id, sha, path, _), animals in zip(todo, found, strict=True):
                box = cache.box_key(animals[0][0]) if animals else ""
                db.execute("INSERT OR IGNORE INTO pet_references (pet_id, sha256, path, origin, box, created_at) "
                           "VALUES (?, ?, ?, 'config', ?, ?)", (pet_id, sha, str(path), box, now))
                added += 1
    embedded, cached, unreadable = embed_references(store, vision)
    skipped += unreadable + enrol_strangers(store, config, vision)
    total = store.value("SELECT count(*) FROM pet_references WHERE pet_id IN "
                        f"({','.join('?' * len(ids))})", list(ids.values())) if ids else 0
    return SyncResult(total, added, removed, embedded, cached, skipped)


def embed_references(store: Store, vision: Any) -> tuple[int, int, list[str]]:
    """Embed every reference the cache lacks for the current embedder; returns (embedded, cached, unreadable)."""
    rows = store.all("SELECT DISTINCT sha256, box, path FROM pet_references ORDER BY id")
    keys = {(r["sha256"], r["box"]): r["path"] for r in rows}
    have = cache.lookup(store, vision.embedder_id, keys)
    missing = [(key, path) for key, path in keys.items() if key not in have]
    images, boxes, todo, unreadable = [], [], [], []
    for key, path in missing:
        try:
            images.append(open_image(_reference_path(store, path)))
        except PawpostError as exc:
            unreadable.append(str(exc))
            continue
        boxes.append(cache.parse_box(key[1]))
        todo.append(key)
    if todo:
        vectors = vision.embed_regions(images, boxes)
        cache.save(store, vision.embedder_id, dict(zip(todo, vectors, strict=True)))
    return len(todo), len(have), unreadable


def enrol_strangers(store: Store, config: Config, vision: Any) -> list[str]:
    """Embed the photos of `models.strangers` the cache lacks (their best-detected animal, or the whole photo);
    returns the files that could not be read. They are never anyone's reference, only the threshold's evidence."""
    files = {file_sha256(p): p for p in image_files(config.models.strangers)}
    have = {sha for sha, _ in stranger_vectors(store, vision.embedder_id, list(files))}
    todo, skipped = [], []
    for sha, path in files.items():
        if sha not in have:
            try:
                todo.append((sha, open_image(path, config.ingest.max_megapixels)))
            except PawpostError as exc:
                skipped.append(str(exc))
    if todo:
        found = vision.detect([image for _, image in todo])
        boxes = [animals[0][0] if animals else None for animals in found]
        vectors = vision.embed_regions([image for _, image in todo], boxes)
        cache.save(store, vision.embedder_id, {(sha, cache.box_key(box)): v
                                               for (sha, _), box, v in zip(todo, boxes, vectors, strict=True)})
    return skipped


def stranger_vectors(store: Store, embedder_id: str, shas: list[str]) -> list[tuple[str, Any]]:
    """(sha256, vector) of every cached embedding of these files for this embedder."""
    import numpy as np

    out = []
    for start in range(0, len(shas), 500):  # SQLite's variable limit
        part = shas[start:start + 500]
        rows = store.all(f"SELECT sha256, vector FROM embeddings WHERE embedder = ? AND sha256 IN "
                         f"({','.join('?' * len(part))}) ORDER BY id", [embedder_id, *part])
        out += [(r["sha256"], np.frombuffer(r["vector"], dtype=np.float32)) for r in rows]
    return out


def load_references(store: Store, config: Config, embedder_id: str) -> References:
    """Every configured pet's cached reference vectors for this embedder, in config order, with the threshold
    they calibrate (or the configured one). Needs no model: `doctor` uses it too."""
    names = [p.name for p in config.pets]
    rows = store.all(
        "SELECT pets.name, e.vector FROM pet_references r JOIN pets ON pets.id = r.pet_id "
        "JOIN embeddings e ON e.embedder = ? AND e.sha256 = r.sha256 AND e.box = r.box ORDER BY r.id",
        (embedder_id,))
    import numpy as np

    by_pet: dict[str, list[np.ndarray]] = {n.lower(): [] for n in names}
    for row in rows:
        if row["name"].lower() in by_pet:
            by_pet[row["name"].lower()].append(np.frombuffer(row["vector"], dtype=np.float32))
    refs = References(names, [np.array(by_pet[n.lower()], dtype=np.float32) if by_pet[n.lower()]
                              else np.zeros((0, 0), dtype=np.float32) for n in names])
    strangers = [v for _, v in stranger_vectors(store, embedder_id,
                                                [file_sha256(p) for p in image_files(config.models.strangers)])]
    refs.calibration = threshold_for(config.models.match_threshold, refs,
                                     np.array(strangers, dtype=np.float32) if strangers else None)
    return refs


def references(store: Store, config: Config, vision: Any) -> References:
    """Enrol what is new, then the references to match against."""
    sync_references(store, config, vision)
    return load_references(store, config, vision.embedder_id)


def add_references(store: Store, config: Config, vision: Any, name: str, photos: list[Path]) -> list[AddedReference]:
    """`pets add`: copy photos into data/pets/<name>/ and make them references of the pet (origin 'added')."""
    pet = configured_pet(config, name)
    pet_id = ensure_pets(store, config)[pet.name]
    loaded = []
    for path in photos:
        path = Path(path).expanduser()
        if not path.is_file():
            raise PawpostError(f"{path} does not exist or is not a file")
        loaded.append((path, open_image(path, config.ingest.max_megapixels), path.read_bytes()))
    found = vision.detect([image for _, image, _ in loaded])
    folder = config.paths.data / "pets" / _slug(pet.name)
    out = []
    now = timeutil.iso(timeutil.now())
    for (path, _, data), animals in zip(loaded, found, strict=True):
        sha = file_sha256(path)
        target = folder / f"{sha[:16]}{path.suffix.lower()}"
        if not target.exists():
            write_atomic(target, data)
        box = cache.box_key(animals[0][0]) if animals else ""
        with store.tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO pet_references (pet_id, sha256, path, origin, box, created_at) "
                             "VALUES (?, ?, ?, 'added', ?, ?)", (pet_id, sha, store.relpath(target), box, now))
        out.append(AddedReference(str(target), str(path), cache.parse_box(box), cur.rowcount > 0))
    embed_references(store, vision)
    store.event("pets.added", f"{sum(a.new for a in out)} reference photo(s) added to {pet.name}")
    return out


def pet_summaries(store: Store, config: Config) -> list[dict[str, Any]]:
    """`pets list`: each configured pet with its references by origin and photos recognised (no models)."""
    out = []
    for pet in config.pets:
        row = store.one("SELECT id FROM pets WHERE name = ?", (pet.name,))
        origins = {"config": 0, "added": 0, "correction": 0}
        photos = 0
        if row is not None:
            for r in store.all("SELECT origin, count(*) AS n FROM pet_references WHERE pet_id = ? GROUP BY origin",
                               (row["id"],)):
                origins[r["origin"]] = r["n"]
            photos = store.value("SELECT count(*) FROM photo_pets WHERE pet_id = ?", (row["id"],))
        files = len(image_files(pet.photos))
        out.append({"name": pet.name, "species": pet.species, "folder": str(pet.photos) if pet.photos else None,
                    "folder_photos": files, "references": sum(origins.values()), "by_origin": origins,
                    # folder photos are enrolled when the models next run (daemon, identify, eval)
                    "not_enrolled": max(0, files - origins["config"]), "photos": photos})
    return out


def _reference_path(store: Store, path: str) -> Path:
    # Folder references are stored absolute; copies under data/ relative to it, so the data folder can move.
    p = Path(path)
    return p if p.is_absolute() else store.data_dir / p


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "pet"
