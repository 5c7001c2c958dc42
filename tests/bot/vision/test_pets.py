"""Enrolment of reference photos, recognition of a pet from them, the unknown threshold, the embedding cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.errors import NotFound
from bot.runtime.ml import Runtime
from bot.vision.identify import Vision
from bot.vision.images import open_image
from bot.vision.pets import add_references, load_references, pet_summaries, references, sync_references
from tests import tiny_vision
from tests.bot.vision.conftest import REFERENCES_PER_PET, open_home


def test_enrolment_embeds_each_reference_once(vision_home) -> None:
    config, store, vision = open_home(vision_home())
    first = sync_references(store, config, vision)
    assert (first.added, first.removed, first.embedded, first.cached) == (6, 0, 6, 0)
    assert first.references == 6
    rows = store.all("SELECT pets.name, r.origin, r.path FROM pet_references r JOIN pets ON pets.id = r.pet_id")
    assert sorted({(r["name"], r["origin"]) for r in rows}) == [("Lola", "config"), ("Pico", "config")]
    refs = load_references(store, config, vision.embedder_id)
    assert refs.names == ["Lola", "Pico"]
    assert [v.shape[0] for v in refs.vectors] == [REFERENCES_PER_PET, REFERENCES_PER_PET]
    assert all(abs(float((v * v).sum()) - 1) < 1e-4 for vectors in refs.vectors for v in vectors)

    again = sync_references(store, config, vision)  # nothing changed: no detection, no embedding
    assert (again.added, again.removed, again.embedded, again.cached) == (0, 0, 0, 6)

    summary = {p["name"]: p for p in pet_summaries(store, config)}
    assert summary["Lola"]["references"] == 3 and summary["Lola"]["not_enrolled"] == 0


def test_a_reference_photo_identifies_as_its_own_pet(vision_home, tiny_models) -> None:
    for embedder in ("dinov2", "clip"):
        config, store, vision = open_home(vision_home(embedder=tiny_models[embedder]))
        refs = references(store, config, vision)
        for pet in config.pets:
            photos = [open_image(p) for p in sorted(pet.photos.iterdir())]
            for result in vision.analyze(photos, refs):
                assert result.whole_image  # the test detector finds nothing at threshold 1.0
                assert [a.pet for a in result.pets] == [pet.name], embedder
                assert result.pets[0].similarity > 0.9
                assert 0.5 < result.pets[0].confidence <= 1
                assert not result.no_animal and result.unknown == 0
        store.close()


def test_the_threshold_decides_unknown(vision_home) -> None:
    # One reference per pet: a reference photo scores exactly 1, any other photo less.
    config, store, vision = open_home(vision_home(references=1))
    refs = references(store, config, vision)
    stranger = tiny_vision.pet_photo("green", 0)
    own = open_image(next(config.pet("Lola").photos.iterdir()))

    strict = vision.analyze([own, stranger], refs, threshold=0.999)
    assert [a.pet for a in strict[0].pets] == ["Lola"] and strict[0].pets[0].similarity > 0.999
    assert strict[1].pets == [] and strict[1].no_animal  # nothing detected and like none of the pets

    best = max(strict[1].vectors[0][1] @ v[0] for v in refs.vectors)  # its closest pet's similarity
    lenient = vision.analyze([stranger], refs, threshold=float(best) - 0.01)[0]
    assert len(lenient.pets) == 1 and not lenient.no_animal
    assert lenient.pets[0].similarity == pytest.approx(float(best), abs=1e-4)


def test_animals_under_the_threshold_are_counted_unknown(vision_home, tiny_models) -> None:
    # The grid detector finds several "animals" in a green photo; none is like Lola (red) or Pico (blue).
    config, store, vision = open_home(vision_home(detector=tiny_models["owlv2_grid"], embedder=tiny_models["clip"],
                                            detection_threshold=0.0, match_threshold=0.9))
    result = vision.analyze([tiny_vision.pet_photo("green", 3)], references(store, config, vision))[0]
    assert not result.whole_image and not result.no_animal
    assert len(result.animals) > 1
    assert result.pets == [] and result.unknown == len(result.animals)
    assert result.to_json()["unknown"] == len(result.animals)


def test_cache_is_reused_and_invalidated_when_the_embedder_or_a_photo_changes(vision_home, tiny_models) -> None:
    path = vision_home()
    config, store, vision = open_home(path)
    assert sync_references(store, config, vision).embedded == 6
    dinov2 = vision.embedder_id

    # Another embedder: every reference is embedded again, under its own key; the old vectors stay.
    config.models.embedder = str(tiny_models["clip"])
    clip = Vision(config, Runtime.from_config(config))
    result = sync_references(store, config, clip)
    assert (result.embedded, result.cached) == (6, 0)
    assert clip.embedder_id != dinov2
    per_embedder = dict(store.all("SELECT embedder, count(*) FROM embeddings GROUP BY embedder"))
    assert per_embedder == {dinov2: 6, clip.embedder_id: 6}
    assert sync_references(store, config, clip).embedded == 0
    assert load_references(store, config, clip.embedder_id).vectors[0].shape == (3, 16)  # CLIP's projection

    # Back to the first embedder: its vectors are still cached.
    assert (sync_references(store, config, vision).embedded, sync_references(store, config, vision).cached) == (0, 6)

    # A reference photo replaced by another picture: only that one is detected and embedded again.
    lola = config.pet("Lola").photos
    tiny_vision.save_photo(tiny_vision.pet_photo("red", 9), lola / "lola-0.jpg")
    changed = sync_references(store, config, vision)
    assert (changed.added, changed.removed, changed.embedded, changed.cached) == (1, 1, 1, 5)

    # A photo removed from the folder stops being a reference.
    (lola / "lola-1.jpg").unlink()
    removed = sync_references(store, config, vision)
    assert (removed.removed, removed.embedded) == (1, 0)
    assert load_references(store, config, dinov2).vectors[0].shape[0] == 2


def test_a_replaced_local_model_is_a_new_embedder(vision_home, tmp_path: Path) -> None:
    # The same folder path with other weights must not reuse the old folder's vectors.
    folder = tiny_vision.build_dinov2(tmp_path / "embedder", seed=1)
    config, store, vision = open_home(vision_home(embedder=folder))
    assert sync_references(store, config, vision).embedded == 6
    shutil.rmtree(folder)
    tiny_vision.build_dinov2(folder, seed=2)
    replaced = Vision(config, Runtime.from_config(config))
    assert replaced.embedder_id != vision.embedder_id
    assert sync_references(store, config, replaced).embedded == 6


def test_pets_add_copies_the_photo_and_recognises_it(vision_home, tmp_path: Path) -> None:
    config, store, vision = open_home(vision_home())
    extra = tiny_vision.save_photo(tiny_vision.pet_photo("blue", 11), tmp_path / "outside" / "new pico.jpg")
    added = add_references(store, config, vision, "pico", [extra])
    assert len(added) == 1 and added[0].new and added[0].box is None
    copy = Path(added[0].path)
    assert copy.is_file() and copy.is_relative_to(config.paths.data / "pets" / "pico")
    assert copy.read_bytes() == extra.read_bytes()
    row = store.one("SELECT r.origin, r.path, pets.name FROM pet_references r JOIN pets ON pets.id = r.pet_id "
                    "WHERE r.origin = 'added'")
    assert (row["name"], row["path"]) == ("Pico", store.relpath(copy))
    extra.unlink()  # the copy is what counts

    refs = references(store, config, vision)
    assert [v.shape[0] for v in refs.vectors] == [3, 4]
    result = vision.analyze([tiny_vision.pet_photo("blue", 11)], refs)[0]
    assert result.pets[0].pet == "Pico" and result.pets[0].similarity > 0.999

    assert not add_references(store, config, vision, "Pico", [copy])[0].new  # the same photo again
    with pytest.raises(NotFound, match="no pet named 'Rex'"):
        add_references(store, config, vision, "Rex", [copy])
