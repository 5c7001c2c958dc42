"""The match threshold of one account: calibrated per pet from the owner's own reference photos, or set in the config.

An embedder's similarities have their own scale, so no fixed number suits every model; the owner's references say
how alike one pet's photos are and how alike different pets (and any photos of strangers) are for this embedder.
"""

from __future__ import annotations

import numpy as np

from bot.vision.matching import Calibration, References, scores

AUTO = "auto"
# With evidence on one side only, the threshold lies this share of the way from that side's extreme score towards
# the far end: 1 above the different pets (one reference per pet: chosen on benchmarks/pets_real.py's development
# home B), 0 below a lone pet's own photos (chosen over every single-pet home of the real photos: with nothing
# unlike the pet to compare with, it stays close under its photos).
ABOVE_OTHERS_SHARE = 0.25
BELOW_SAME_SHARE = 0.1
# However unlike a home's pets are to each other, a pet's threshold is never more than this share under its least
# alike same-pet score: a stranger of the pet's breed can come closer to it than any other pet of the home does, so
# the other pets alone never pull it down far (chosen on benchmarks/pets_real.py's development homes A, B and C:
# every share from 0.10 to 0.20 met the goal on all three; this is the middle).
SAME_FLOOR_SHARE = 0.15
# A pet whose own photos are no more alike than another animal is to it: just above that animal.
ABOVE_TOP = 1e-6
# With nothing to calibrate from (no references embedded yet) nothing can be matched anyway.
UNCALIBRATED = 0.6


def threshold_for(setting: float | str, refs: References, strangers: np.ndarray | None = None) -> Calibration:
    """The threshold to match with: `setting` when it is a number, else calibrated from `refs` and `strangers`."""
    if setting != AUTO:
        return Calibration(float(setting), "configured", "set in the config (models.match_threshold)")
    return calibrate(refs, strangers)


def calibrate(refs: References, strangers: np.ndarray | None = None) -> Calibration:
    """Each pet's threshold, from how alike its own photos are and how alike other animals come to it.

    Same pet: each reference scored against its pet's other references (left out of them, so it is scored as a
    new photo would be). Different animals: each other pet's references and each stranger photo scored against the
    pet. A pet's threshold lies midway between its least alike same-pet score and the most alike different-animal
    score of the whole home, never under the most alike different animal of its own, and never more than
    SAME_FLOOR_SHARE under its least alike same-pet score: a pet whose photos vary (poses, places, distances) gets
    a lower threshold than one whose photos are all alike, a stranger close to one pet still has to beat that
    pet's own evidence, and a home of very unlike pets does not open the door to a look-alike of one of them.
    """
    same, against = _reference_scores(refs)
    for p, extra in enumerate(_stranger_scores(refs, strangers)):
        against[p] += extra
    negatives = [s for scores_ in against for s in scores_]
    evidence = _evidence(refs, same, against, strangers)
    enrolled = [p for p, v in enumerate(refs.vectors) if len(v)]
    if not any(same[p] for p in enrolled) and not negatives:
        return Calibration(UNCALIBRATED, "uncalibrated", "not calibrated yet: no reference photos embedded (they "
                           "are when the models next run)")
    if not negatives:
        rule = ("no different pet or stranger to compare with, so it lies a tenth of the way down from the pet's "
                "least alike same-pet score to 0 (photos of other animals in models.strangers sharpen it)")
    elif not any(same[p] for p in enrolled):
        rule = ("no pet has two references yet, so it lies a quarter of the way up from the most alike different-"
                "pet or stranger score to 1 (add more photos per pet to sharpen it)")
    else:
        rule = ("each pet's lies midway between its least alike same-pet score and the most alike different "
                "animal, never under another animal's likeness to that pet, and never more than "
                f"{SAME_FLOOR_SHARE:.0%} under its least alike same-pet score")
        if not all(same[p] for p in enrolled):
            rule += " (a quarter of the way up to 1 for a pet with one reference)"
    high = max(negatives) if negatives else None
    per_pet = {refs.names[p]: _pet_threshold(same[p], against[p], high) for p in enrolled}
    base = min(per_pet.values())
    shown = ", ".join(f"{name} {t:.2f}" for name, t in per_pet.items())
    return Calibration(base, "calibrated", f"{evidence}; {rule}: {shown}",
                       {name: t for name, t in per_pet.items() if t > base})


def _pet_threshold(same: list[float], against: list[float], high: float | None) -> float:
    if high is None:  # one pet and nothing unlike it
        low = min(same)
        return low - BELOW_SAME_SHARE * max(low, 0.0)
    if not same:  # one reference: nothing says how much the pet's photos vary
        return high + ABOVE_OTHERS_SHARE * (1.0 - high)
    low = min(same)
    t = max((low + high) / 2, low - SAME_FLOOR_SHARE * max(low, 0.0))
    top = max(against, default=None)
    if top is not None and t <= top:  # another animal is this alike to the pet: stay above it
        t = (low + top) / 2 if low > top else top + ABOVE_TOP
    return t


def _reference_scores(refs: References) -> tuple[list[list[float]], list[list[float]]]:
    """Per pet: its references' leave-one-out scores, and the other pets' references scored against it."""
    same: list[list[float]] = [[] for _ in refs.names]
    against: list[list[float]] = [[] for _ in refs.names]
    for p, vectors in enumerate(refs.vectors):
        for i in range(len(vectors)):
            one = vectors[i:i + 1]
            rest = np.delete(vectors, i, axis=0)
            if len(rest):
                same[p].append(float(scores(one, References([refs.names[p]], [rest]))[0, 0]))
            for q, theirs in enumerate(refs.vectors):
                if q != p and len(theirs):
                    against[q].append(float(scores(one, References([refs.names[q]], [theirs]))[0, 0]))
    return same, against


def _stranger_scores(refs: References, strangers: np.ndarray | None) -> list[list[float]]:
    """Per pet: every stranger photo's score against it."""
    if strangers is None or len(strangers) == 0 or refs.empty:
        return [[] for _ in refs.names]
    s = scores(np.asarray(strangers, dtype=np.float32), refs)
    return [[float(v) for v in s[:, p]] if len(refs.vectors[p]) else [] for p in range(len(refs.names))]


def _evidence(refs: References, same: list[list[float]], against: list[list[float]],
              strangers: np.ndarray | None) -> str:
    pets = sum(1 for v in refs.vectors if len(v))
    photos = sum(len(v) for v in refs.vectors)
    parts = [f"calibrated from {pets} pet(s)' {photos} reference photo(s)"]
    alike = [s for scores_ in same for s in scores_]
    if alike:
        parts.append(f"same pet {min(alike):.2f} to {max(alike):.2f}")
    unlike = [s for scores_ in against for s in scores_]
    if unlike:
        parts.append(f"different animals up to {max(unlike):.2f}")
    if strangers is not None and len(strangers):
        parts.append(f"{len(strangers)} stranger photo(s)")
    return ", ".join(parts)
