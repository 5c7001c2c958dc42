"""Fixtures for retraining tests: the shared tiny caption models and a home with synthetic past posts."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.rows import START, add_posted
from tests.tiny_captions import build_blip, build_chat_lm, build_chat_vlm, captioner_models, two_stage_models

PETS = [
    {"name": "Lola", "species": "dog", "description": "a tiny fawn chihuahua", "hashtags": ["#lolathechihuahua"]},
    {"name": "Pico", "species": "dog", "description": "a black and tan puppy", "hashtags": ["#picothechi"]},
]
# Phrases from the tiny tokenizers' corpus, so captions are a few tokens each and a tiny model learns them fast.
OPENERS = ["Good morning!", "Happy sunday!", "Hello friends!"]
MIDDLES = ["loves blankets and hates rain.", "naps in the sun on the sofa.", "wants to play ball in the garden.",
           "is so sleepy today.", "is in the park, my favourite place.", "is curious and clumsy."]
CLOSERS = ["", " Treats, please?", " 🐾", " Who wants to play?"]


def synthetic_captions(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(pet, caption) pairs in one playful voice, all different, alternating Lola and Pico."""
    rng = random.Random(seed)
    combos = [(o, m, c) for o in OPENERS for m in MIDDLES for c in CLOSERS]
    rng.shuffle(combos)
    out = []
    for i, (opener, middle, closer) in enumerate(combos[:count]):
        pet = PETS[i % 2]["name"]
        out.append((pet, f"{opener} {pet} {middle}{closer}"))
    return out


def add_posts(store: Any, count: int, *, seed: int = 0, first: int = 0) -> None:
    """`count` posted drafts, a day apart from day `first`; every fifth was edited by the owner."""
    for i, (pet, caption) in enumerate(synthetic_captions(first + count, seed)[first:], start=first):
        add_posted(store, caption + " #chihuahua #dogsofinstagram", START + timedelta(days=i), pet,
                   edited=i % 5 == 0)


def retrain_sections(models: dict[str, str], **retrain: Any) -> dict[str, dict[str, Any]]:
    """Config for a fast CPU retrain with a tiny model that learns in a few dozen steps."""
    return {
        "models": {"device": "cpu", "dtype": "float32", **models},
        "captions": {"candidates": 2, "max_new_tokens": 24, "voice": "short and playful", "style_examples": 0,
                     "seed": 11},
        "retrain": {"min_new_posts": 10, "holdout_fraction": 0.15, "steps": 50, "learning_rate": 0.02,
                    "lora_rank": 8, "batch_size": 8, **retrain},
    }


@pytest.fixture
def make_home(tmp_path: Path):
    """Build a pawpost home with given config sections; returns (config, store)."""
    from bot.config import load_config
    from bot.store.database import Store

    stores: list[Any] = []

    def build(sections: dict[str, dict[str, Any]], name: str = "home") -> tuple[Any, Any]:
        path = write_config(tmp_path / name, sections, pets=PETS)
        config = load_config(path)
        store = Store.for_config(config)
        stores.append(store)
        return config, store

    yield build
    for s in stores:
        s.close()


def learnable_copy(source: Path, folder: Path, kind: str, scale: float = 20.0) -> Path:
    """The tiny model with its output layer scaled up. At random init (std 0.02) its logits span a fraction of
    a nat, so no LoRA update can make any caption likely; scaled, a few dozen LoRA steps learn a voice.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    auto, pre = ((AutoModelForImageTextToText, AutoProcessor) if kind == "vlm"
                 else (AutoModelForCausalLM, AutoTokenizer))
    model = auto.from_pretrained(source)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(scale)
    model.save_pretrained(folder)
    pre.from_pretrained(source).save_pretrained(folder)
    return folder


def seeded(seed: int = 0) -> None:
    # Random weights from a fixed seed: the same tiny models whatever ran before, so results do not drift.
    import torch

    torch.manual_seed(seed)


@pytest.fixture(scope="session")
def learnable_writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/tiny_captions' SmolLM2-style writer, 64 wide (32 learns too slowly), output layer scaled."""
    seeded()
    source = build_chat_lm(tmp_path_factory.mktemp("tiny-writer-64"), hidden=64)
    return learnable_copy(source, tmp_path_factory.mktemp("learnable-writer"), "writer")


@pytest.fixture(scope="session")
def learnable_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/tiny_captions' SmolVLM-shaped chat VLM, 64 wide, output layer scaled."""
    seeded()
    source = build_chat_vlm(tmp_path_factory.mktemp("tiny-vlm-64"), hidden=64)
    return learnable_copy(source, tmp_path_factory.mktemp("learnable-vlm"), "vlm")


@pytest.fixture(scope="session")
def seeded_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/tiny_captions' tiny BLIP describer, from a fixed seed."""
    seeded()
    return build_blip(tmp_path_factory.mktemp("seeded-blip"))


@pytest.fixture
def writer_models(seeded_blip: Path, learnable_writer: Path) -> dict[str, str]:
    return two_stage_models(seeded_blip, learnable_writer)


@pytest.fixture
def vlm_models(learnable_vlm: Path) -> dict[str, str]:
    return captioner_models(learnable_vlm)
