"""The calibrated match threshold: found from the owner's references (and strangers), shown by eval and doctor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.vision.matching import References, match, pet_thresholds, scores
from bot.vision.threshold import SAME_FLOOR_SHARE, calibrate, threshold_for
from tests import tiny_vision
from tests.bot.vision.conftest import open_home


def at(*degrees: float) -> np.ndarray:
    """Unit vectors in a plane at these angles: the cosine of two is the cosine of the angle between them."""
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians), np.zeros_like(radians)], axis=1).astype(np.float32)


ELSEWHERE = np.array([[0.6, 0.0, 0.8]], dtype=np.float32)  # unlike either pet (an animal of another kind)


TWO_PETS = References(["Lola", "Pico"], [at(0, 10, 20), at(90, 100, 110)])


def test_pets_alike_to_each_other_put_the_threshold_midway() -> None:
    refs = References(["Lola", "Pico"], [at(0, 10, 20), at(45, 55, 65)])  # two pets of one look: close together
    c = calibrate(refs)
    same_low = float(scores(at(0), References(["Lola"], [at(10, 20)]))[0, 0])  # the least alike left-out photo
    other_high = float(scores(at(20), References(["Pico"], [at(45, 55, 65)]))[0, 0])
    assert c.source == "calibrated"
    assert c.threshold == pytest.approx((same_low + other_high) / 2)
    assert "2 pet(s)' 6 reference photo(s)" in c.how and "midway" in c.how
    # A new photo of Lola is hers; an animal unlike both is neither.
    lola, other = match(np.concatenate([at(5), ELSEWHERE]), refs, c.threshold)
    assert lola.pet == "Lola" and other.pet is None


def test_very_unlike_pets_do_not_pull_a_threshold_far_under_the_pets_own_photos() -> None:
    # Lola and Pico share nothing, so the midway between Lola's photos and Pico lies far down; a stranger of
    # Lola's look, less alike to her than her own photos are to each other, is still no pet of the home.
    c = calibrate(TWO_PETS)
    same_low = float(scores(at(0), References(["Lola"], [at(10, 20)]))[0, 0])
    other_high = float(scores(at(20), References(["Pico"], [at(90, 100, 110)]))[0, 0])
    assert (same_low + other_high) / 2 < 0.7
    assert c.threshold == pytest.approx(same_low * (1 - SAME_FLOOR_SHARE))
    assert f"never more than {SAME_FLOOR_SHARE:.0%} under its least alike same-pet score" in c.how
    lookalike, lola = match(np.concatenate([at(50), at(25)]), TWO_PETS, c.threshold)
    assert (same_low + other_high) / 2 < lookalike.scores["Lola"] < c.threshold
    assert lookalike.pet is None and lola.pet == "Lola"


def test_a_strangers_photo_raises_the_threshold_over_itself() -> None:
    stranger = at(35)  # a dog that looks rather like Lola
    assert match(stranger, TWO_PETS, calibrate(TWO_PETS).threshold)[0].pet == "Lola"
    sharpened = calibrate(TWO_PETS, stranger)
    assert sharpened.threshold > calibrate(TWO_PETS).threshold
    assert "1 stranger photo(s)" in sharpened.how
    assert match(stranger, TWO_PETS, sharpened.threshold)[0].pet is None
    assert match(at(5), TWO_PETS, sharpened.threshold)[0].pet == "Lola"


def tilted(degrees: float, elevation: float) -> np.ndarray:
    """A unit vector at `degrees` in the plane, lifted `elevation` degrees out of it: alike to what lies at
    `degrees` only as much as cos(elevation) allows, and unlike everything else in the plane."""
    d, e = np.radians(degrees), np.radians(elevation)
    return np.array([[np.cos(e) * np.cos(d), np.cos(e) * np.sin(d), np.sin(e)]], dtype=np.float32)


def test_each_pet_gets_a_threshold_from_its_own_photos() -> None:
    # Lola's photos vary (poses, places); Pico's are all alike. An animal that resembles Pico about as much as
    # Lola's photos resemble each other is a stranger to Pico, and a new, different-looking photo of Lola is hers.
    refs = References(["Lola", "Pico"], [at(0, 30, 60), at(120, 122, 124)])
    c = refs.calibration = calibrate(refs)  # as load_references attaches it
    assert c.per_pet["Pico"] > c.threshold  # the home's threshold is Lola's, the lowest
    assert "Lola" not in c.per_pet
    assert f"Lola {c.threshold:.2f}, Pico {c.per_pet['Pico']:.2f}" in c.how
    pico_lookalike = tilted(122, 44)
    lola_far, pico = match(np.concatenate([at(75), pico_lookalike, at(121)]), refs, c.threshold)[::2]
    assert lola_far.pet == "Lola" and pico.pet == "Pico"
    lookalike = match(pico_lookalike, refs, c.threshold)[0]
    assert c.threshold < lookalike.scores["Pico"] < c.per_pet["Pico"]  # over the lowest, under Pico's own
    assert lookalike.pet is None and lookalike.confidence == 0.0


def test_a_pet_alike_to_another_stays_above_that_likeness() -> None:
    # Pico's references are spread wide and one of Lola's sits among them: Pico is never matched more easily
    # than Lola's photo resembles Pico.
    refs = References(["Lola", "Pico"], [at(40, 41, 42), at(0, 45, 90)])
    c = refs.calibration = calibrate(refs)
    lola_like_pico = float(scores(at(41), References(["Pico"], [at(0, 45, 90)]))[0, 0])
    assert c.per_pet.get("Pico", c.threshold) > lola_like_pico
    assert match(at(41), refs, c.threshold)[0].pet == "Lola"


def test_the_sweep_moves_every_pets_threshold_together() -> None:
    refs = References(["Lola", "Pico"], [at(0, 30, 60), at(120, 122, 124)])
    refs.calibration = calibrate(refs)
    lookalike = tilted(122, 44)
    assert match(lookalike, refs, refs.calibration.threshold)[0].pet is None
    # 0.2 lower for every pet: Pico's own threshold falls under the look-alike too.
    assert match(lookalike, refs, refs.calibration.threshold - 0.2)[0].pet == "Pico"


def test_one_sided_evidence_still_gives_a_threshold() -> None:
    alone = calibrate(References(["Lola"], [at(0, 10, 20)]))  # one pet, no stranger: only same-pet scores
    assert "no different pet or stranger" in alone.how
    assert alone.threshold < float(scores(at(0), References(["Lola"], [at(10, 20)]))[0, 0])
    single = calibrate(References(["Lola", "Pico"], [at(0), at(90)]))  # one reference each: no same-pet score
    assert "no pet has two references" in single.how
    assert float(scores(at(0), References(["Pico"], [at(90)]))[0, 0]) < single.threshold < 1
    empty = calibrate(References(["Lola"], [np.zeros((0, 0), dtype=np.float32)]))
    assert empty.source == "uncalibrated" and "not calibrated yet" in empty.how


def test_a_configured_number_wins() -> None:
    c = threshold_for(0.42, TWO_PETS, at(35))
    assert (c.threshold, c.source) == (0.42, "configured") and "models.match_threshold" in c.how
    assert threshold_for("auto", TWO_PETS).source == "calibrated"


def invoke(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_eval_and_doctor_show_the_calibrated_threshold_and_follow_the_references(vision_home, tmp_path) -> None:
    path = vision_home(match_threshold="auto")
    labelled = tmp_path / "labelled"
    for folder, look in (("Lola", "red"), ("Pico", "blue"), ("none", "green")):
        tiny_vision.save_photo(tiny_vision.pet_photo(look, 40), labelled / folder / "40.jpg")
    result = json.loads(invoke(path, "pets", "eval", str(labelled), "--json"))
    assert result["threshold_source"] == "calibrated"
    assert "calibrated from 2 pet(s)' 6 reference photo(s)" in result["threshold_how"]
    text = invoke(path, "pets", "eval", str(labelled))
    assert f"match threshold {result['threshold']:.3f}: calibrated from 2 pet(s)'" in text

    doctor = json.loads(CliRunner().invoke(cli, ["--config", str(path), "doctor", "--json"]).stdout)
    line = next(c for c in doctor["checks"] if c["name"] == "match threshold")
    assert line["message"].startswith(f"{result['threshold']:.3f}, calibrated from 2 pet(s)' 6 reference photo(s)")

    # A fourth reference of Lola changes the evidence: the threshold is found again from it.
    tiny_vision.save_photo(tiny_vision.pet_photo("red", 7), tmp_path / "pawpost" / "pets" / "lola" / "lola-7.jpg")
    again = json.loads(invoke(path, "pets", "eval", str(labelled), "--json"))
    assert "2 pet(s)' 7 reference photo(s)" in again["threshold_how"]
    assert again["threshold"] != result["threshold"]


def test_strangers_folder_is_embedded_and_only_sharpens_the_threshold(vision_home, tmp_path) -> None:
    from bot.config import load_config
    from bot.vision.pets import load_references, pet_summaries, references

    path = vision_home(match_threshold="auto")
    strangers = tmp_path / "pawpost" / "strangers"
    for v in range(2):
        tiny_vision.save_photo(tiny_vision.pet_photo("green", v), strangers / f"{v}.jpg")
    config, store, vision = open_home(path)
    without = references(store, config, vision).calibration
    text = path.read_text().replace("[models]\n", '[models]\nstrangers = "strangers"\n', 1)
    path.write_text(text)
    config = load_config(path)
    assert config.models.strangers == strangers
    with_strangers = references(store, config, vision).calibration
    assert "2 stranger photo(s)" in with_strangers.how and "stranger" not in without.how
    # Cached: the threshold is known again without a model (as doctor finds it).
    assert load_references(store, config, vision.embedder_id).calibration == with_strangers
    assert [p["references"] for p in pet_summaries(store, config)] == [3, 3]  # never anyone's reference


def test_detector_none_takes_the_whole_photo_and_loads_no_detector(vision_home) -> None:
    config, store, vision = open_home(vision_home(detector="none", match_threshold="auto"))
    from bot.vision.pets import references

    refs = references(store, config, vision)
    own, stranger = tiny_vision.pet_photo("red", 30), tiny_vision.pet_photo("green", 30)
    lola, nobody = vision.analyze([own, stranger], refs)
    assert not vision.detector.loaded
    assert lola.whole_image and [a.pet for a in lola.pets] == ["Lola"] and lola.animals[0].score is None
    assert nobody.whole_image and nobody.pets == [] and nobody.no_animal
    doctor = json.loads(CliRunner().invoke(cli, ["--config", str(config.source), "doctor", "--json"]).stdout)
    line = next(c for c in doctor["checks"] if c["name"] == "model detector")
    assert line["ok"] and line["message"].startswith("none: each whole photo is taken as one animal")


def test_a_pet_with_one_reference_among_others_is_placed_above_the_others() -> None:
    refs = References(["Lola", "Pico"], [at(0, 10, 20), at(90)])
    c = refs.calibration = calibrate(refs)
    assert "a quarter of the way up to 1 for a pet with one reference" in c.how
    lola_t, pico_t = pet_thresholds(refs, c.threshold)
    lola_like_pico = float(scores(at(20), References(["Pico"], [at(90)]))[0, 0])
    assert lola_like_pico < pico_t < 1 and pico_t != lola_t
    assert [m.pet for m in match(np.concatenate([at(5), at(88)]), refs, c.threshold)] == ["Lola", "Pico"]
