"""Matching animals to pets: scores, confidence and the one-to-one assignment, on real embeddings of real crops."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bot.runtime.ml import Runtime
from bot.vision.embedder import Embedder
from bot.vision.matching import References, assign, confidences, match, scores
from tests import tiny_vision


@pytest.fixture(scope="module")
def embed(tiny_models):
    embedder = Embedder(str(tiny_models["clip"]), Runtime("cpu", "auto", 10))
    return embedder.embed


@pytest.fixture(scope="module")
def refs(embed) -> References:
    return References(["Lola", "Pico"], [embed([tiny_vision.pet_photo("red", v) for v in range(3)]),
                                         embed([tiny_vision.pet_photo("blue", v) for v in range(3)])])


def halves(image):
    w, h = image.size
    return [image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))]


def test_two_animals_each_get_their_own_pet(embed, refs) -> None:
    crops = embed(halves(tiny_vision.two_pet_photo("blue", "red", variant=8)))
    matches = match(crops, refs, threshold=0.9)
    assert [m.pet for m in matches] == ["Pico", "Lola"]
    assert all(0.5 < m.confidence <= 1 for m in matches)
    assert matches[0].scores["Pico"] > matches[0].scores["Lola"]


def test_one_pet_is_never_given_to_two_animals(embed, refs) -> None:
    # Two animals that both look like Lola: one is Lola, the other is not Lola too.
    crops = embed(halves(tiny_vision.two_pet_photo("red", "red", variant=9)))
    s = scores(crops, refs)
    assert (s[:, 0] > s[:, 1]).all()  # both prefer Lola
    strict = match(crops, refs, threshold=0.9)
    assert sorted(m.pet or "-" for m in strict) == ["-", "Lola"]
    unknown = next(m for m in strict if m.pet is None)
    assert unknown.confidence == 0 and unknown.similarity == pytest.approx(s.max(axis=1).min(), abs=1e-6)
    # With no threshold the second animal takes the pet left over, rather than a second Lola.
    lenient = match(crops, refs, threshold=-1)
    assert sorted(m.pet for m in lenient) == ["Lola", "Pico"]
    lola = int(np.argmax(s[:, 0]))
    assert lenient[lola].pet == "Lola"  # the better Lola keeps her


def test_the_greedy_fallback_without_scipy(embed, refs, monkeypatch) -> None:
    crops = embed(halves(tiny_vision.two_pet_photo("red", "red", variant=9))
                  + halves(tiny_vision.two_pet_photo("green", "blue", variant=2)))
    s = scores(crops, refs)
    with_scipy = assign(s, 0.5)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # import fails, as without scipy
    assert assign(s, 0.5) == with_scipy
    taken = [j for j in with_scipy if j is not None]
    assert len(taken) == len(set(taken))


def test_confidence_is_a_probability_that_falls_with_a_close_rival() -> None:
    s = np.array([[0.9, 0.3], [0.9, 0.88], [0.62, 0.1], [0.2, 0.1]])
    c = confidences(s, threshold=0.6)
    assert ((c >= 0) & (c <= 1)).all()
    assert c[0, 0] > 0.99  # far above the threshold and the other pet
    assert c[1, 0] < 0.6  # almost level with another pet
    assert c[2, 0] < c[0, 0]  # just above the threshold
    assert c[3].sum() < 0.01  # under the threshold: "unknown" takes it


def test_a_pet_without_references_is_never_matched(embed) -> None:
    refs = References(["Lola", "Pico"], [embed([tiny_vision.pet_photo("red", 0)]), np.zeros((0, 16), np.float32)])
    [m] = match(embed([tiny_vision.pet_photo("blue", 0)]), refs, threshold=-1)
    assert m.pet == "Lola" and list(m.scores) == ["Lola"]
    assert match(np.zeros((0, 16), np.float32), refs, 0.5) == []
