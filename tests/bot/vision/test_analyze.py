"""The new -> analyzed stage: batches, photo_pets and analysis JSON, two animals, corrections, unloadable models."""

from __future__ import annotations

import json
from datetime import timedelta

from bot import timeutil
from bot.doctor import check_vision
from bot.runtime.ml import Runtime
from bot.status import status
from bot.vision.analyze import analyze_new
from bot.vision.corrections import set_photo_pets
from bot.vision.identify import Vision
from bot.vision.images import open_image
from bot.vision.pets import references
from tests import tiny_vision
from tests.bot.vision.conftest import add_photo, open_home


def pets_of(store, photo_id):
    return [(r["name"], r["source"]) for r in store.all(
        "SELECT pets.name, pp.source FROM photo_pets pp JOIN pets ON pets.id = pp.pet_id WHERE pp.photo_id = ? "
        "ORDER BY pets.name", (photo_id,))]


def count_passes(model) -> list[int]:
    """Forward passes of a loaded torch model, counted with a hook (batch size of each)."""
    calls: list[int] = []
    model.register_forward_hook(lambda module, args, kwargs, out: calls.append(len(kwargs.get("pixel_values")
                                                                                    if "pixel_values" in kwargs
                                                                                    else args[0])),
                                with_kwargs=True)
    return calls


def test_new_photos_are_analyzed_in_batches(vision_home) -> None:
    config, store, vision = open_home(vision_home(batch_size=4))
    looks = ["red", "blue", "red", "green", "blue", "red"]
    ids = [add_photo(store, tiny_vision.pet_photo(look, 20 + i), f"p{i}.jpg") for i, look in enumerate(looks)]
    references(store, config, vision)  # enrol first, so only the stage's own passes are counted
    detector_passes = count_passes(vision.detector.model)
    embedder_passes = count_passes(vision.embedder.model)

    assert analyze_new(store, config, vision) == 6
    assert detector_passes == [4, 2]  # one pass per batch of photos
    # Whole images only (nothing is detected at threshold 1.0), each in its views, in the same one pass.
    views = config.models.embed_views
    assert views == 5 and embedder_passes == [4 * views, 2 * views]
    assert [store.photo(i)["status"] for i in ids] == ["analyzed"] * 6
    assert pets_of(store, ids[0]) == [("Lola", "model")]
    assert pets_of(store, ids[1]) == [("Pico", "model")]

    analysis = json.loads(store.photo(ids[0])["analysis"])
    assert analysis["whole_image"] is True and analysis["no_animal"] is False and analysis["unknown"] == 0
    [animal] = analysis["animals"]
    assert animal["pet"] == "Lola" and animal["label"] is None and animal["score"] is None
    assert animal["box"] == [0.0, 0.0, 96.0, 80.0]  # the whole photo, in its own pixels
    assert 0 < animal["similarity"] <= 1

    # Every analyzed photo's whole-image embedding is cached for the caption stage.
    shas = [store.photo(i)["sha256"] for i in ids]
    cached = store.all(f"SELECT sha256 FROM embeddings WHERE embedder = ? AND box = '' AND sha256 IN "
                       f"({','.join('?' * 6)})", [vision.embedder_id, *shas])
    assert len(cached) == 6
    assert analyze_new(store, config, vision) == 0  # nothing left


def test_a_photo_with_no_detection_uses_the_whole_image(vision_home) -> None:
    # One reference per pet and a strict threshold: only Lola's own reference photo is recognised.
    config, store, vision = open_home(vision_home(references=1, match_threshold=0.99))
    lola = add_photo(store, config.pet("Lola").photos / "lola-0.jpg", "lola.jpg")
    other = add_photo(store, tiny_vision.pet_photo("green", 1), "other.jpg")
    assert analyze_new(store, config, vision) == 2
    found = json.loads(store.photo(lola)["analysis"])
    assert found["whole_image"] and not found["no_animal"] and found["animals"][0]["pet"] == "Lola"
    nothing = json.loads(store.photo(other)["analysis"])
    assert nothing["whole_image"] and nothing["no_animal"]
    assert nothing["animals"] == [] and nothing["unknown"] == 0
    assert pets_of(store, other) == []
    assert store.photo(other)["status"] == "analyzed"


def test_two_animals_are_assigned_one_to_one(vision_home, tiny_models) -> None:
    # The grid detector reports each image cell as an animal; Lola's look fills the left half, Pico's the right.
    config, store, vision = open_home(vision_home(detector=tiny_models["owlv2_grid"], embedder=tiny_models["clip"],
                                            detection_threshold=0.0, match_threshold=0.9))
    photo = tiny_vision.two_pet_photo("red", "blue", variant=4)
    photo_id = add_photo(store, photo, "both.jpg")
    assert analyze_new(store, config, vision) == 1
    analysis = json.loads(store.photo(photo_id)["analysis"])
    animals = analysis["animals"]
    assert len(animals) > 2 and not analysis["whole_image"]
    # Each pet once, although several cells look like each of them.
    assert sorted(a["pet"] for a in animals if a["pet"]) == ["Lola", "Pico"]
    named = {a["pet"]: a for a in animals if a["pet"]}
    assert analysis["unknown"] == len(animals) - 2
    assert named["Lola"]["box"][2] <= photo.width / 2 + 16  # Lola's cell is in the left half
    assert named["Pico"]["box"][0] >= photo.width / 2 - 16
    for a in animals:
        x0, y0, x1, y1 = a["box"]
        assert 0 <= x0 < x1 <= photo.width and 0 <= y0 < y1 <= photo.height
        assert a["label"] == "dog" and 0 <= a["score"] <= 1
    rows = {r["name"]: r for r in store.all("SELECT pets.name, pp.box, pp.confidence FROM photo_pets pp "
                                            "JOIN pets ON pets.id = pp.pet_id WHERE photo_id = ?", (photo_id,))}
    assert json.loads(rows["Lola"]["box"]) == named["Lola"]["box"]
    assert 0.5 < rows["Pico"]["confidence"] <= 1
    # Every animal's crop embedding is cached too, so a correction needs no model run.
    assert store.value("SELECT count(*) FROM embeddings WHERE sha256 = ?",
                       (store.photo(photo_id)["sha256"],)) == len(animals) + 1


def test_a_correction_teaches_the_pet(vision_home, tiny_models) -> None:
    config, store, vision = open_home(vision_home(embedder=tiny_models["clip"]))
    green = tiny_vision.pet_photo("green", 2)  # Lola in a green jumper, say: looks more like Pico to the model
    photo_id = add_photo(store, green, "lola-jumper.jpg")
    analyze_new(store, config, vision)
    assert pets_of(store, photo_id) == [("Pico", "model")]

    result = set_photo_pets(store, config, vision, photo_id, ["lola"])
    assert result.pets == [{"name": "Lola", "box": None}] and result.references_added == 1
    assert pets_of(store, photo_id) == [("Lola", "owner")]
    ref = store.one("SELECT origin, photo_id, box FROM pet_references WHERE origin = 'correction'")
    assert (ref["photo_id"], ref["box"]) == (photo_id, "")

    refs = references(store, config, vision)
    again = vision.analyze([open_image(store.abspath(store.photo(photo_id)["path"]))], refs)[0]
    assert [a.pet for a in again.pets] == ["Lola"]
    similar = vision.analyze([tiny_vision.pet_photo("green", 5)], refs)[0]  # the same mistake, another day
    assert [a.pet for a in similar.pets] == ["Lola"]

    # Correcting again replaces the earlier correction; "none" clears the pets.
    set_photo_pets(store, config, vision, photo_id, ["none"])
    assert pets_of(store, photo_id) == []
    assert store.value("SELECT count(*) FROM pet_references WHERE origin = 'correction'") == 0


def test_a_correction_of_two_animals_gives_each_pet_its_own(vision_home, tiny_models) -> None:
    config, store, vision = open_home(vision_home(detector=tiny_models["owlv2_grid"], embedder=tiny_models["clip"],
                                            detection_threshold=0.0, match_threshold=0.99))
    photo = tiny_vision.two_pet_photo("red", "blue", variant=6)
    photo_id = add_photo(store, photo, "both.jpg")
    analyze_new(store, config, vision)
    result = set_photo_pets(store, config, vision, photo_id, ["Pico", "Lola"])
    boxes = {p["name"]: p["box"] for p in result.pets}
    assert boxes["Lola"][2] <= photo.width / 2 + 16 and boxes["Pico"][0] >= photo.width / 2 - 16
    assert result.references_added == 2
    assert sorted(pets_of(store, photo_id)) == [("Lola", "owner"), ("Pico", "owner")]


def test_a_model_that_cannot_load_leaves_the_photo_waiting(vision_home, tmp_path, monkeypatch) -> None:
    missing = tmp_path / "no-such-detector"
    config, store, vision = open_home(vision_home(detector=missing))
    photo_id = add_photo(store, tiny_vision.pet_photo("red", 3), "lola.jpg")
    assert analyze_new(store, config, vision) == 0
    photo = store.photo(photo_id)
    assert photo["status"] == "new"  # nothing lost, nothing moved
    assert "models.detector" in photo["error"] and "no such folder" in photo["error"]
    assert photo["retry_after"] is not None and photo["attempts"] == 1

    info = status(store, config)
    assert "no such folder" in info["models"]["detector"]["error"]
    assert info["models"]["embedder"]["error"] is None
    assert [w["id"] for w in info["waiting"]] == [photo_id]
    doctor = {c.name: c for c in check_vision(config)}
    assert not doctor["model detector"].ok and "no such folder" in doctor["model detector"].message
    assert doctor["model embedder"].ok
    assert analyze_new(store, config, vision) == 0  # not retried before its time
    assert store.photo(photo_id)["attempts"] == 1

    # The owner fixes the config; once the retry time has come the photo is analyzed and the error cleared.
    tiny_vision.build_detr(missing)
    later = timeutil.iso(timeutil.now() + timedelta(hours=2))
    monkeypatch.setenv("PAWPOST_FAKE_NOW", later)
    vision = Vision(config, Runtime.from_config(config))
    assert analyze_new(store, config, vision) == 1
    photo = store.photo(photo_id)
    assert photo["status"] == "analyzed" and photo["error"] is None and photo["retry_after"] is None
    assert status(store, config)["models"]["detector"]["error"] is None
    assert all(c.ok for c in check_vision(config))


def test_an_unreadable_library_file_waits_without_blocking_the_others(vision_home) -> None:
    config, store, vision = open_home(vision_home())
    good = add_photo(store, tiny_vision.pet_photo("blue", 4), "good.jpg")
    bad = add_photo(store, tiny_vision.pet_photo("red", 4), "bad.jpg")
    (config.paths.data / "library" / "bad.jpg").write_bytes(b"not an image")
    assert analyze_new(store, config, vision) == 1
    assert store.photo(good)["status"] == "analyzed"
    assert store.photo(bad)["status"] == "new" and "not an image" in store.photo(bad)["error"]


def test_limit_takes_the_oldest_first(vision_home) -> None:
    config, store, vision = open_home(vision_home())
    ids = [add_photo(store, tiny_vision.pet_photo("red", 30 + i), f"{i}.jpg") for i in range(3)]
    assert analyze_new(store, config, vision, limit=1) == 1
    assert store.photo(ids[0])["status"] == "analyzed"
    assert store.counts()["photos"]["new"] == 2


def test_the_stage_analyzes_exactly_the_batch_it_is_given(vision_home) -> None:
    """The pipeline picks the batch; the stage neither adds other due photos nor touches a photo taken meanwhile."""
    from bot.store.states import PhotoStatus
    from bot.vision.analyze import analyze_photos

    config, store, vision = open_home(vision_home())
    first, second, third = (add_photo(store, tiny_vision.pet_photo("red", 50 + i), f"b{i}.jpg") for i in range(3))
    store.set_photo_status(second, PhotoStatus.ANALYZED)  # another process analyzed it meanwhile
    assert analyze_photos(store, config, vision, [first, second]) == 1
    assert [store.photo(i)["status"] for i in (first, second, third)] == ["analyzed", "analyzed", "new"]
    assert store.photo(second)["error"] is None and pets_of(store, second) == []
    assert analyze_photos(store, config, vision, []) == 0
