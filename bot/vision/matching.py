"""Which pet each animal is: similarity to every pet's reference embeddings, and a one-to-one assignment.

Pure numpy over L2-normalised vectors, so it is easy to test and to re-run at other thresholds (`pets eval`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEAREST_K = 3  # references averaged per pet: robust to one odd reference, still sharp for a close match
TEMPERATURE = 0.05  # confidence softness, in cosine-similarity units
FORBIDDEN = -1e6


@dataclass
class Calibration:
    """The match threshold in use and how it was found (shown by `pets eval` and `doctor`)."""

    threshold: float  # the lowest pet's threshold (every pet's, when it is configured)
    source: str  # "calibrated" (from the references), "configured" (models.match_threshold) or "uncalibrated"
    how: str  # one sentence for the owner: the similarities it was found from, and the rule
    per_pet: dict[str, float] = field(default_factory=dict)  # a pet's own threshold where it is above `threshold`


@dataclass
class References:
    """Each pet's reference embeddings (rows L2-normalised), in a fixed pet order, and the threshold they set."""

    names: list[str]
    vectors: list[np.ndarray] = field(default_factory=list)  # one (n_refs, dim) array per pet
    calibration: Calibration | None = None

    @property
    def empty(self) -> bool:
        return not any(len(v) for v in self.vectors)


@dataclass
class Match:
    """One animal's outcome: the pet it was assigned (None: unknown), its similarity and confidence."""

    pet: str | None
    similarity: float  # the score of the assigned pet, or of the best pet when unknown
    confidence: float  # in [0, 1]; 0 when unknown
    scores: dict[str, float]  # every pet's score, for eval and debugging


def scores(animals: np.ndarray, refs: References) -> np.ndarray:
    """(n_animals, n_pets) scores: 1/2 the nearest reference's cosine, 1/4 the nearest-k mean, 1/4 the pet mean's.

    The nearest reference recognises a pose or look seen before (a correction, a burst of shots); the
    nearest-k and the mean keep one odd reference from deciding alone. A pet without references scores FORBIDDEN.
    """
    out = np.full((len(animals), len(refs.names)), FORBIDDEN, dtype=np.float64)
    if len(animals) == 0:
        return out
    for j, vectors in enumerate(refs.vectors):
        if len(vectors) == 0:
            continue
        sims = animals @ vectors.T  # (n_animals, n_refs)
        k = min(NEAREST_K, vectors.shape[0])
        ranked = -np.sort(-sims, axis=1)
        centre = vectors.mean(axis=0)
        centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
        out[:, j] = 0.5 * ranked[:, 0] + 0.25 * ranked[:, :k].mean(axis=1) + 0.25 * (animals @ centre)
    return out


def pet_thresholds(refs: References, threshold: float) -> np.ndarray:
    """Each pet's threshold, in `refs.names` order, when the home's is `threshold`.

    A calibrated pet may need to be more alike than the home's lowest threshold (its photos are alike, or another
    animal is alike to it); that margin is kept when `threshold` moves (the `pets eval` sweep), so every pet's
    threshold moves with it.
    """
    cal = refs.calibration
    base = cal.threshold if cal is not None else threshold
    extra = cal.per_pet if cal is not None else {}
    return np.array([threshold + max(0.0, extra.get(name, base) - base) for name in refs.names], dtype=np.float64)


def confidences(score_matrix: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Per animal and pet, in [0, 1]: a softmax over the pets' margins above their thresholds plus "unknown",
    whose margin is 0.

    So a pet well above its threshold and well above every other pet is near 1; at its threshold, or level
    with another pet, it is near 1/2 or lower.
    """
    if score_matrix.size == 0:
        return np.zeros_like(score_matrix)
    margins = score_matrix - np.asarray(threshold, dtype=np.float64)
    logits = np.concatenate([margins, np.zeros((len(score_matrix), 1))], axis=1) / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True))[:, :-1]


def assign(score_matrix: np.ndarray, threshold: float | np.ndarray) -> list[int | None]:
    """For each animal the index of its pet, or None: one-to-one, maximising the total score, each pair at or
    above its pet's threshold (one number, or one per pet).

    Hungarian assignment when scipy is installed; otherwise greedy best-pair-first, which is the same answer
    in all but contrived cases for the handful of animals in one photo.
    """
    n_animals, n_pets = score_matrix.shape
    if n_animals == 0 or n_pets == 0:
        return [None] * n_animals
    allowed = score_matrix >= np.asarray(threshold)
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        return _greedy(score_matrix, allowed)
    # Pairs under the threshold cost more than leaving everyone unmatched, so they are never preferred.
    cost = np.where(allowed, -score_matrix, 1e6)
    rows, cols = linear_sum_assignment(cost)
    result: list[int | None] = [None] * n_animals
    for r, c in zip(rows, cols, strict=True):
        if allowed[r, c]:
            result[r] = int(c)
    return result


def _greedy(score_matrix: np.ndarray, allowed: np.ndarray) -> list[int | None]:
    result: list[int | None] = [None] * score_matrix.shape[0]
    taken: set[int] = set()
    order = np.dstack(np.unravel_index(np.argsort(-score_matrix, axis=None), score_matrix.shape))[0]
    for r, c in order:
        if allowed[r, c] and result[r] is None and c not in taken:
            result[r] = int(c)
            taken.add(int(c))
    return result


def match(animals: np.ndarray, refs: References, threshold: float) -> list[Match]:
    """Each animal's pet (one-to-one), similarity and confidence; unknown under its pet's threshold (`threshold`
    is the home's; a calibrated pet's own may lie above it: `pet_thresholds`)."""
    s = scores(animals, refs)
    limits = pet_thresholds(refs, threshold)
    conf = confidences(s, limits)
    chosen = assign(s, limits)
    out = []
    for i, j in enumerate(chosen):
        row = {name: round(float(s[i, k]), 4) for k, name in enumerate(refs.names) if s[i, k] > FORBIDDEN}
        if j is None:
            best = float(s[i].max()) if s.shape[1] and s[i].max() > FORBIDDEN else 0.0
            out.append(Match(None, best, 0.0, row))
        else:
            out.append(Match(refs.names[j], float(s[i, j]), float(conf[i, j]), row))
    return out
