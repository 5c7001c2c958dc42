"""The match threshold of one account: calibrated from the owner's own reference photos, or set in the config.

An embedder's similarities have their own scale, so no fixed number suits every model; the owner's references say
how alike one pet's photos are and how alike different pets (and any photos of strangers) are for this embedder.
"""

from __future__ import annotations

import itertools

import numpy as np

from bot.vision.matching import Calibration, References, scores

AUTO = "auto"
# With evidence on one side only, the threshold lies this share of the way from that side's extreme score towards
# the far end: 1 above the different pets (one reference per pet: chosen on benchmarks/pets_real.py's development
# home B, reported on home A), 0 below a lone pet's own photos (chosen over every single-pet home of the real
# photos: with nothing unlike the pet to compare with, it stays close under its photos).
ABOVE_OTHERS_SHARE = 0.25
BELOW_SAME_SHARE = 0.1
# With nothing to calibrate from (no references embedded yet) nothing can be matched anyway.
UNCALIBRATED = 0.6


def threshold_for(setting: float | str, refs: References, strangers: np.ndarray | None = None) -> Calibration:
    """The threshold to match with: `setting` when it is a number, else calibrated from `refs` and `strangers`."""
    if setting != AUTO:
        return Calibration(float(setting), "configured", "set in the config (models.match_threshold)")
    return calibrate(refs, strangers)


def calibrate(refs: References, strangers: np.ndarray | None = None) -> Calibration:
    """The threshold that best separates one pet's photos from different pets' and strangers' photos.

    Same pet: each reference scored against its pet's other references (left out of them, so it is scored as a
    new photo would be). Different pets: each reference scored against every other pet. Strangers: each photo of no
    pet scored against its nearest pet. When the two sides do not overlap the threshold lies midway between the
    least alike same-pet score and the most alike different one; when they overlap it is the cut that misjudges
    the fewest, midway along the best run of cuts.
    """
    same, other = _reference_scores(refs)
    stranger = _stranger_scores(refs, strangers)
    negatives = other + stranger
    evidence = _evidence(refs, same, other, stranger)
    if not same and not negatives:
        return Calibration(UNCALIBRATED, "uncalibrated", "not calibrated yet: no reference photos embedded (they "
                           "are when the models next run)")
    if not negatives:
        low = min(same)
        t = low - BELOW_SAME_SHARE * max(low, 0.0)
        how = (f"{evidence}; no different pet or stranger to compare with, so it lies a tenth of the way "
               "down from the least alike same-pet score to 0 (photos of other animals in models.strangers "
               "sharpen it)")
        return Calibration(t, "calibrated", how)
    if not same:
        high = max(negatives)
        t = high + ABOVE_OTHERS_SHARE * (1.0 - high)
        how = (f"{evidence}; no pet has two references yet, so it lies a quarter of the way up from the most "
               "alike different-pet or stranger score to 1 (add more photos per pet to sharpen it)")
        return Calibration(t, "calibrated", how)
    low, high = min(same), max(negatives)
    if low > high:
        return Calibration((low + high) / 2, "calibrated", f"{evidence}; midway between the least alike same-pet "
                           "score and the most alike different one")
    t = _fewest_errors(same, negatives)
    return Calibration(t, "calibrated", f"{evidence}; they overlap, so it is the cut that misjudges the fewest "
                       "of them")


def _reference_scores(refs: References) -> tuple[list[float], list[float]]:
    same: list[float] = []
    other: list[float] = []
    for p, vectors in enumerate(refs.vectors):
        for i in range(len(vectors)):
            one = vectors[i:i + 1]
            rest = np.delete(vectors, i, axis=0)
            if len(rest):
                same.append(float(scores(one, References([refs.names[p]], [rest]))[0, 0]))
            for q, theirs in enumerate(refs.vectors):
                if q != p and len(theirs):
                    other.append(float(scores(one, References([refs.names[q]], [theirs]))[0, 0]))
    return same, other


def _stranger_scores(refs: References, strangers: np.ndarray | None) -> list[float]:
    if strangers is None or len(strangers) == 0 or refs.empty:
        return []
    s = scores(np.asarray(strangers, dtype=np.float32), refs)
    return [float(v) for v in s.max(axis=1)]


def _fewest_errors(same: list[float], negatives: list[float]) -> float:
    """The cut with the fewest same-pet scores under it plus negatives at or over it (midway along the best run)."""
    values = sorted(set(same) | set(negatives))
    cuts = [values[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(values)] + [values[-1] + 1e-6]
    pos, neg = np.array(same), np.array(negatives)
    errors = [int((pos < c).sum() + (neg >= c).sum()) for c in cuts]
    best = min(errors)
    run = [c for c, e in zip(cuts, errors, strict=True) if e == best]
    return (run[0] + run[-1]) / 2


def _evidence(refs: References, same: list[float], other: list[float], stranger: list[float]) -> str:
    pets = sum(1 for v in refs.vectors if len(v))
    photos = sum(len(v) for v in refs.vectors)
    parts = [f"calibrated from {pets} pet(s)' {photos} reference photo(s)"]
    if same:
        parts.append(f"same pet {min(same):.2f} to {max(same):.2f}")
    if other:
        parts.append(f"different pets up to {max(other):.2f}")
    if stranger:
        parts.append(f"{len(stranger)} stranger photo(s) up to {max(stranger):.2f}")
    return ", ".join(parts)
