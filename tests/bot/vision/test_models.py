"""The detector and the embedder on tiny OWLv2, DETR, DINOv2 and CLIP models, through the real loading code."""

from __future__ import annotations

import numpy as np
import pytest

from bot.errors import ModelUnavailable
from bot.runtime.ml import Runtime
from bot.vision.detector import Detector
from bot.vision.embedder import Embedder, embedder_identity, padded_crop, views
from tests import tiny_vision

PHOTOS = [tiny_vision.pet_photo("red", 1), tiny_vision.two_pet_photo("red", "blue"), tiny_vision.pet_photo("blue", 2)]


def runtime() -> Runtime:
    return Runtime("cpu", "auto", 10)


def test_the_detector_kind_comes_from_the_config(tiny_models) -> None:
    owl = Detector(str(tiny_models["owlv2"]), runtime())
    detr = Detector(str(tiny_models["detr"]), runtime())
    assert not owl.loaded and not detr.loaded
    owl.load()
    detr.load()
    assert (owl.kind, detr.kind) == ("zero-shot", "closed-set")
    with pytest.raises(ModelUnavailable, match="not an object detector"):
        Detector(str(tiny_models["dinov2"]), runtime()).load()


@pytest.mark.parametrize("model", ["owlv2", "owlv2_grid", "detr"])
def test_detections_are_the_configured_species_inside_the_image(tiny_models, model: str) -> None:
    detector = Detector(str(tiny_models[model]), runtime())
    found = detector.detect(PHOTOS, ["dog", "cat"], threshold=0.0)
    assert len(found) == len(PHOTOS)
    assert any(found)  # at threshold 0 a random model still reports something
    for image, animals in zip(PHOTOS, found, strict=True):
        assert len(animals) <= 10
        assert [a.score for a in animals] == sorted((a.score for a in animals), reverse=True)
        for a in animals:
            x0, y0, x1, y1 = a.box
            assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
            assert a.label in {"dog", "cat"}
    assert detector.detect(PHOTOS, ["dog"], threshold=1.0) == [[], [], []]  # scores never exceed 1


def test_a_closed_set_detector_only_reports_labels_named_like_a_pet_species(tiny_models) -> None:
    detector = Detector(str(tiny_models["detr"]), runtime())
    everything = detector.detect(PHOTOS, ["dog", "cat", "bird"], threshold=0.0)
    assert any(everything)
    assert detector.detect(PHOTOS, ["rabbit"], threshold=0.0) == [[], [], []]  # not among DETR's labels
    assert detector.labels_for(["dog", "rabbit"]) == ["dog"]


def test_the_grid_detector_boxes_are_distinct_cells(tiny_models) -> None:
    animals = Detector(str(tiny_models["owlv2_grid"]), runtime()).detect([PHOTOS[1]], ["dog"], 0.0)[0]
    assert len(animals) > 2
    left = [a for a in animals if a.box[2] <= 64]
    right = [a for a in animals if a.box[0] >= 64]
    assert left and right


@pytest.mark.parametrize("model,dim,texts", [("dinov2", 32, False), ("clip", 16, True)])
def test_embeddings_are_normalised_and_text_only_where_the_model_reads_it(tiny_models, model, dim, texts) -> None:
    embedder = Embedder(str(tiny_models[model]), runtime())
    vectors = embedder.embed(PHOTOS)
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(embedder.embed(PHOTOS[:1]), vectors[:1], atol=1e-5)  # batching changes nothing
    words = embedder.embed_texts(["a photo of a dog", "a cat"])
    if texts:
        assert words.shape == (2, dim) and np.allclose(np.linalg.norm(words, axis=1), 1, atol=1e-5)
    else:
        assert words is None


def test_five_views_average_the_photo_and_its_corner_crops(tiny_models) -> None:
    one = Embedder(str(tiny_models["dinov2"]), runtime())
    five = Embedder(str(tiny_models["dinov2"]), runtime(), views=5)
    photo = PHOTOS[1]
    crops = views(photo, 5)
    assert len(crops) == 5 and crops[0] is photo
    assert {c.size for c in crops[1:]} == {(round(photo.width * 0.8), round(photo.height * 0.8))}
    assert len({c.tobytes() for c in crops[1:]}) == 4  # four different corners
    each = one.embed(crops)
    mean = each.mean(axis=0)
    assert np.allclose(five.embed([photo])[0], mean / np.linalg.norm(mean), atol=1e-5)
    assert not np.allclose(five.embed([photo])[0], each[0], atol=1e-3)  # the crops do count
    # Vectors of one kind are never mixed with the other's in the embedding cache.
    assert five.identity != one.identity == embedder_identity(str(tiny_models["dinov2"]))
    assert five.identity == embedder_identity(str(tiny_models["dinov2"]), 5)


def test_a_convolutional_backbone_embeds_through_its_pooled_output(tmp_path) -> None:
    """A ResNet's pooled output is a (n, C, 1, 1) map; it becomes one vector per image (the real EfficientNet-Lite0
    of tests/bot/vision/test_real_weights.py pools to (n, C))."""
    import torch
    from transformers import BitImageProcessorPil, ResNetConfig, ResNetModel

    torch.manual_seed(0)
    model = ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"))
    model.eval().save_pretrained(tmp_path / "resnet")
    BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path / "resnet")
    vectors = Embedder(str(tmp_path / "resnet"), runtime()).embed(PHOTOS)
    assert vectors.shape == (3, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_the_none_detector_finds_nothing_and_loads_nothing() -> None:
    detector = Detector("none", runtime())
    assert detector.detect(PHOTOS, ["dog"], 0.0) == [[], [], []]
    detector.load()
    assert not detector.loaded


def test_padded_crop_adds_context_and_stays_inside() -> None:
    image = tiny_vision.pet_photo("red", 0, size=(100, 80))
    assert padded_crop(image, [10, 10, 60, 50]).size == (60, 48)  # 10% of 50x40 on each side
    assert padded_crop(image, [0, 0, 100, 80]).size == (100, 80)
    assert padded_crop(image, None) is image
