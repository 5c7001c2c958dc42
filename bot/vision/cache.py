"""The embedding cache: vectors keyed by embedder identity, file sha256 and box, in the `embeddings` table.

A vector is recomputed only when the embedder or the file changes; a box is JSON [x0,y0,x1,y1] or '' (whole).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np

from bot import timeutil
from bot.store.database import Store

Key = tuple[str, str]  # (sha256, box key)


def box_key(box: Sequence[float] | None) -> str:
    """The canonical text of a box, as stored in `embeddings.box` and `pet_references.box`."""
    if not box:
        return ""
    return json.dumps([round(float(v), 1) for v in box])


def parse_box(key: str) -> list[float] | None:
    return json.loads(key) if key else None


def lookup(store: Store, embedder: str, keys: Iterable[Key]) -> dict[Key, np.ndarray]:
    """The cached vectors among `keys` for this embedder."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[Key, np.ndarray] = {}
    shas = sorted({sha for sha, _ in wanted})
    for start in range(0, len(shas), 500):  # SQLite's variable limit
        part = shas[start:start + 500]
        rows = store.all(f"SELECT sha256, box, vector FROM embeddings WHERE embedder = ? AND sha256 IN "
                         f"({','.join('?' * len(part))})", [embedder, *part])
        for row in rows:
            key = (row["sha256"], row["box"])
            if key in wanted:
                found[key] = np.frombuffer(row["vector"], dtype=np.float32).copy()
    return found


def save(store: Store, embedder: str, vectors: dict[Key, np.ndarray]) -> None:
    """Store vectors (float32, L2-normalised), replacing any for the same key."""
    if not vectors:
        return
    now = timeutil.iso(timeutil.now())
    with store.tx() as db:
        db.executemany(
            "INSERT INTO embeddings (embedder, sha256, box, dim, vector, created_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(embedder, sha256, box) DO UPDATE SET dim = excluded.dim, vector = excluded.vector, "
            "created_at = excluded.created_at",
            [(embedder, sha, box, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes(), now)
             for (sha, box), v in vectors.items()],
        )
