"""The training speed path (training/speed.py and its use in training/finetune.py), in fp32 on the CPU: batches of
similar length padded on the left with logits for the caption only, image features once per photo, the time
budget, and gradient checkpointing only when the budget needs it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.training.conftest import PETS, add_posts, retrain_sections

CAPTIONS = ["Good morning! Lola naps in the sun on the sofa.", "Hello friends!", "Happy sunday! Lola is so sleepy.",
            "Lola wants to play ball in the garden. Treats, please?", "Lola is curious and clumsy. 🐾"]


def photo(folder: Path, seed: int) -> Path:
    import random

    from PIL import Image

    rng = random.Random(seed)
    path = folder / f"p{seed}.jpg"
    Image.new("RGB", (48 + 16 * seed, 40), tuple(rng.randrange(256) for _ in range(3))).save(path)
    return path


def backend_and_samples(kind: str, model: str, tmp_path: Path, n: int = 5) -> tuple[Any, list[Any], Any]:
    """A loaded Backend and n samples whose prompts differ in length (0-2 style examples) and photos in size."""
    from bot.captions.prompt import build_prompt
    from bot.config import Config
    from bot.runtime.ml import Runtime
    from training.backend import Backend, Sample

    config = Config(pets=PETS)
    backend = Backend(kind, model, Runtime("cpu", "float32"))
    backend.load()
    samples = []
    for i in range(n):
        prompt = build_prompt(config, ["Lola"], scene="a dog on a sofa" if i % 2 else None,
                              examples=CAPTIONS[:i % 3])
        samples.append(Sample(key=str(i), prompt=backend.render(prompt), target=CAPTIONS[i % len(CAPTIONS)],
                              image=photo(tmp_path, i) if kind == "vlm" else None))
    config.retrain.batch_size = 4
    return backend, samples, config


def per_example_loss(backend: Any, encoded: list[dict[str, Any]]) -> float:
    """The model's own loss (its default path: full logits, unpadded, pixels) summed over caption tokens."""
    import torch

    total, tokens = 0.0, 0
    with torch.no_grad():
        for e in encoded:
            n = int((e["labels"] != -100).sum())
            total += float(backend.model(**e).loss) * n
            tokens += n
    return total / tokens


@pytest.mark.parametrize("kind", ["writer", "vlm"])
def test_the_speed_path_computes_the_same_loss_as_one_example_at_a_time(kind: str, tmp_path: Path,
                                                                      writer_models: Any, vlm_models: Any) -> None:
    import torch

    model = writer_models["writer"] if kind == "writer" else vlm_models["captioner"]
    backend, samples, _ = backend_and_samples(kind, model, tmp_path)
    encoded = [backend.encode(s) for s in samples]
    assert len({e["input_ids"].shape[1] for e in encoded}) > 1  # the batch really is padded
    backend.model.eval()
    expected = per_example_loss(backend, encoded)
    features = [backend.image_features(e) for e in encoded] if kind == "vlm" else None
    if kind == "vlm":
        assert backend.reuses_image_features
    n_tokens = sum(int((e["labels"] != -100).sum()) for e in encoded)
    (batch,) = backend.collate(encoded, features)
    assert "pixel_values" not in batch  # a VLM batch is text plus the photos' features
    # Left padding: every caption ends at the last position.
    assert all(int(row[-1]) != -100 for row in batch["labels"])
    with torch.no_grad():
        got = float(backend.loss(dict(batch), n_tokens))
    assert got == pytest.approx(expected, rel=1e-4)


def test_batches_hold_similar_lengths_and_every_example_once(writer_models: Any) -> None:
    import random

    import torch

    from training.speed import batch_order

    rng = random.Random(0)
    lengths = [rng.randrange(50, 400) for _ in range(500)]
    order = batch_order(lengths, 8, torch.Generator().manual_seed(0))
    assert sorted(i for b in order for i in b) == list(range(500))
    assert len(order) == 63 and all(len(b) == 8 for b in order[:-1] if len(b) == 8)

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    shuffled = torch.randperm(500, generator=torch.Generator().manual_seed(0)).tolist()
    plain = [shuffled[i:i + 8] for i in range(0, 500, 8)]
    assert padded(order) < 0.7 * padded(plain)  # random batches pad to their longest; bucketed ones barely
    # Not in length order across batches (that would bias the learning rate schedule by length).
    means = [sum(lengths[i] for i in b) / len(b) for b in order]
    assert means != sorted(means)
    assert batch_order(lengths, 8, torch.Generator().manual_seed(0)) == order


def test_a_vlms_image_features_are_computed_once_per_photo(tmp_path: Path, vlm_models: Any) -> None:
    from training.finetune import train

    backend, samples, config = backend_and_samples("vlm", vlm_models["captioner"], tmp_path)
    config.retrain.epochs = 3
    calls: list[int] = []
    compute = backend.image_features
    backend.image_features = lambda e: (calls.append(1), compute(e))[1]
    report = train(backend, samples, config)
    assert report.steps == 3 * 2 and report.image_features == "once per photo"
    assert len(calls) == len(samples)  # not once per step of every epoch
    assert report.losses and all(loss > 0 for loss in report.losses) and len(report.losses) == report.steps
    assert report.padded_tokens >= report.tokens > 0 and not report.checkpointing


def test_the_time_budget_ends_training_part_way_and_says_how_far(tmp_path: Path, writer_models: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from training import finetune

    backend, samples, config = backend_and_samples("writer", writer_models["writer"], tmp_path, n=40)
    config.retrain.epochs = 2
    config.retrain.batch_size = 2
    config.retrain.time_budget_minutes = 5  # training gets 85 %: 255 s
    now = [1000.0]
    monkeypatch.setattr(finetune, "clock", lambda: now[0])

    def one_minute_per_step(phase: str, done: int, total: int, loss: float | None) -> None:
        now[0] += 60

    report = finetune.train(backend, samples, config, progress=one_minute_per_step)
    assert report.budget_reached and not report.stopped
    assert report.steps == 5 and report.total_steps == 40
    assert report.epochs_done == pytest.approx(5 / 20)
    assert len(report.losses) == 5


def test_the_schedule_is_re_aimed_where_the_budget_ends() -> None:
    from training.speed import steps_within

    # 40 steps planned; after 2 steps taking 60 s each, a 255 s budget reaches step 4.
    assert steps_within(1, 40, 60.0, 255.0) == 40  # one step is too few to judge the pace
    assert steps_within(2, 40, 120.0, 255.0) == 4
    assert steps_within(2, 40, 1.0, 255.0) == 40  # fast enough: all of them
    assert steps_within(30, 40, 300.0, 255.0) == 31  # past the estimate: never behind the current step


def test_a_cpu_retrain_under_its_time_budget_still_evaluates_and_decides(make_home: Any, writer_models: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime.ml import Runtime
    from training import finetune
    from training.retrain import retrain

    config, store = make_home(retrain_sections(writer_models, steps=40, time_budget_minutes=10))
    add_posts(store, 30)
    now = [0.0]
    monkeypatch.setattr(finetune, "clock", lambda: now[0])

    def tick(phase: str, done: int, total: int, loss: float | None) -> None:
        if phase == "train":
            now[0] += 60

    result = retrain(store, config, runtime=Runtime("cpu", "float32"), progress=tick)
    assert result.status in ("promoted", "kept"), result.message  # judged like any run, never "stopped"
    train = result.train
    assert train.budget_reached and train.steps == 9 < train.total_steps  # 9 minutes >= 85 % of 10
    per_epoch = math.ceil(result.plan["examples"] / result.plan["batch_size"])
    data = result.to_json()["train"]
    assert data["budget_reached"] is True and data["epochs_done"] == pytest.approx(9 / per_epoch, abs=1e-3)
    assert f"trained {9 / per_epoch:.2f} of" in result.message and "time_budget_minutes" in result.message
    assert result.new is not None and result.old is not None


def test_gradient_checkpointing_only_when_the_budget_needs_it(tmp_path: Path, writer_models: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The card is simulated (free/total/allocated memory); the estimate and the decision are the real ones."""
    import torch

    from training.speed import needs_checkpointing

    backend, samples, config = backend_and_samples("writer", writer_models["writer"], tmp_path)
    encoded = [backend.encode(s) for s in samples]
    backend.runtime._device = "cuda"
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 420 * 2**20)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (16 * 2**30, 16 * 2**30))
    assert needs_checkpointing(backend, encoded, config) is False
    config.models.gpu_memory_gb = 0.6  # 614 MiB: more than the 420 MiB on the card plus a batch's activations
    assert needs_checkpointing(backend, encoded, config) is False
    config.models.gpu_memory_gb = 0.5  # 512 MiB: with the allocator's overhead, not enough without recomputing
    assert needs_checkpointing(backend, encoded, config) is True
