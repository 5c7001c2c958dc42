"""The animal check: a photo matched whole is no pet when the embedder's ImageNet-1k classifier finds no animal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.runtime.ml import Runtime
from bot.vision.embedder import Embedder
from bot.vision.pets import references
from tests import tiny_vision
from tests.bot.vision.conftest import open_home


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("classifiers")
    return {sees: tiny_vision.build_imagenet_classifier(root / sees, sees) for sees in ("animal", "object")}


def test_a_classifier_checkpoint_says_how_likely_an_animal_is(classifiers, tiny_models) -> None:
    photos = [tiny_vision.pet_photo("red", 1), tiny_vision.pet_photo("blue", 2)]
    animal = Embedder(str(classifiers["animal"]), Runtime("cpu"))
    assert animal.animal_likelihood(photos) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert Embedder(str(classifiers["object"]), Runtime("cpu")).animal_likelihood(photos) == pytest.approx(
        [0.0, 0.0], abs=1e-6)
    # The backbone embeds as any other: one unit vector per photo.
    vectors = animal.embed(photos)
    assert vectors.shape == (2, 16) and abs(float((vectors[0] ** 2).sum()) - 1) < 1e-5
    # A model with no classifier says nothing.
    assert Embedder(str(tiny_models["dinov2"]), Runtime("cpu")).animal_likelihood(photos) is None


@pytest.mark.parametrize(("sees", "check", "matched"),
                         [("object", True, False), ("object", False, True), ("animal", True, True)])
def test_a_whole_photo_without_an_animal_is_no_pet(vision_home, classifiers, sees, check, matched) -> None:
    # Every photo is close enough to a pet (threshold -1): only the check can leave one unmatched.
    path = vision_home(detector="none", embedder=classifiers[sees], match_threshold=-1.0, animal_check=check)
    config, store, vision = open_home(path)
    with store:
        refs = references(store, config, vision)
        analysis = vision.analyze([tiny_vision.pet_photo("red", 40)], refs)[0]
    assert analysis.whole_image
    assert bool(analysis.pets) is matched and analysis.no_animal is not matched


@pytest.mark.parametrize(("sees", "predicted"), [("object", "none"), ("animal", "Lola")])
def test_pets_eval_counts_a_photo_without_an_animal_as_no_pet_at_every_threshold(vision_home, classifiers, tmp_path,
                                                                                 sees, predicted) -> None:
    path = vision_home(detector="none", embedder=classifiers[sees], match_threshold=-1.0)
    labelled = tmp_path / "labelled"
    tiny_vision.save_photo(tiny_vision.pet_photo("red", 40), labelled / "Lola" / "40.jpg")
    run = CliRunner().invoke(cli, ["--config", str(path), "pets", "eval", str(labelled), "--json"],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert [p["predicted"] for p in result["predictions"]] == [predicted]
    # The sweep re-matches at other thresholds: the check holds at each.
    assert all(row["unknown_rate"] == (1.0 if sees == "object" else 0.0) for row in result["sweep"])
    assert result["animal_check"].startswith("on") and result["no_animal"] == (sees == "object")
    assert result["predictions"][0]["animal_odds"] == pytest.approx(0.0 if sees == "object" else 1.0, abs=1e-4)
    text = CliRunner().invoke(cli, ["--config", str(path), "pets", "eval", str(labelled)]).stdout
    assert f"animal check on: the embedder's ImageNet-1k classifier checks each photo matched whole; " \
           f"{int(sees == 'object')} photo(s) showed no animal" in text


def test_pets_eval_says_when_the_embedder_cannot_check(vision_home, tmp_path) -> None:
    path = vision_home(detector="none")  # the tiny DINOv2: no classifier
    labelled = tmp_path / "labelled"
    tiny_vision.save_photo(tiny_vision.pet_photo("red", 40), labelled / "Lola" / "40.jpg")
    result = json.loads(CliRunner().invoke(cli, ["--config", str(path), "pets", "eval", str(labelled), "--json"],
                                           catch_exceptions=False).stdout)
    assert result["animal_check"] == "not available: the embedder has no ImageNet-1k classifier"
    assert result["no_animal"] == 0 and result["predictions"][0]["animal_odds"] is None


def test_a_classifier_over_another_feature_is_not_used(tmp_path) -> None:
    # DINOv2's classifier reads the class token and the mean patch token side by side: not the embedder's vector.
    from transformers import BitImageProcessorPil, Dinov2Config, Dinov2ForImageClassification

    Dinov2ForImageClassification(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                              intermediate_size=37, image_size=32, patch_size=8,
                                              num_labels=1000)).save_pretrained(tmp_path)
    BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    embedder = Embedder(str(tmp_path), Runtime("cpu"))
    photo = tiny_vision.pet_photo("red", 1)
    assert embedder.embed([photo]).shape == (1, 32) and embedder.animal_likelihood([photo]) is None


@pytest.mark.parametrize(("which", "settings", "says"), [
    ("animal", {}, "on: the embedder's ImageNet-1k classifier"),
    ("dinov2", {}, "not available: the embedder has no ImageNet-1k classifier"),
    ("animal", {"animal_check": False}, "off (models.animal_check = false)"),
])
def test_doctor_says_whether_the_animal_check_can_run(vision_home, classifiers, tiny_models, which, settings,
                                                      says) -> None:
    embedder = classifiers.get(which) or tiny_models[which]
    path = vision_home(detector="none", embedder=embedder, **settings)
    doctor = json.loads(CliRunner().invoke(cli, ["--config", str(path), "doctor", "--json"]).stdout)
    line = next(c for c in doctor["checks"] if c["name"] == "animal check")
    assert line["message"].startswith(says) and line["ok"]
