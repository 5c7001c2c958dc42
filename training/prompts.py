"""The training samples: the daemon's prompt for each post of the dataset (`Prompts`), the describer's words for
its photos when a writer is tuned (`describe`), and the sample a backend trains or is judged on (`sample_for`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.runtime.ml import Runtime
from bot.store.database import Store
from training import dataset as ds
from training.finetune import ProgressFn


def describe(config: Config, runtime: Runtime, examples: list[ds.Example],
             progress: ProgressFn | None = None) -> dict[str, str]:
    """What each post shows, by the daemon's describer (greedy, so the same photo reads the same way): every photo
    of a carousel described, their words merged as the caption stage merges them."""
    from bot.captions.backends import Describer
    from bot.captions.context import caption_image, merge_facts

    describer = Describer(config.models.describer, runtime)
    out: dict[str, str] = {}
    size = config.models.batch_size
    try:
        for first in range(0, len(examples), size):
            batch = examples[first:first + size]
            files = [photos_of(e) for e in batch]
            flat = [f for post in files for f in post]
            texts = iter(describer.describe([caption_image(f) for f in flat]) if flat else [])
            for e, post in zip(batch, files, strict=True):
                merged = merge_facts([next(texts) for _ in post])
                if merged:
                    out[e.key] = merged
            if progress:
                progress("describe", first + len(batch), len(examples), None)
    finally:
        describer.unload()
    return out


def photos_of(example: ds.Example) -> list[Any]:
    """The post's photo files in order (the first alone for an example built with just it)."""
    return list(example.photos) or ([example.photo] if example.photo else [])


class Prompts:
    """The daemon's prompt for each post's photo, built with the same builder, scene wording and style examples
    (past captions of the most similar earlier photos), so a model is trained on what it will be asked."""

    def __init__(self, store: Store, config: Config, examples: list[ds.Example], descriptions: dict[str, str],
                 style_examples: int | None = None):
        from bot.captions import context

        self.store, self.config, self.descriptions = store, config, descriptions
        # How many past captions each prompt shows: the count the trained model will be prompted with.
        self.count = config.captions.style_examples if style_examples is None else style_examples
        self._context = context
        self._ids = context.embedder_ids(config)
        ordered = sorted(examples, key=lambda e: (e.at, e.key))
        self._before = {e.key: ordered[:i] for i, e in enumerate(ordered)}
        self._cache: dict[str, Any] = {}

    def past(self, example: ds.Example) -> list[str]:
        """The captions posted before this one, newest first, as the daemon's rules would have seen them."""
        return [e.raw for e in reversed(self._before.get(example.key, []))]

    def __call__(self, example: ds.Example) -> Any:
        if example.key in self._cache:
            return self._cache[example.key]
        from bot.captions.prompt import build_prompt

        past = [self._context.PastCaption(e.raw, e.sha256) for e in reversed(self._before.get(example.key, []))]
        present = {name.lower() for name in example.pets}
        absent = [p.name for p in self.config.pets if p.name.lower() not in present]
        shown = self._context.style_examples(self.store, example.sha256 or "", self.count, past, self._ids,
                                             avoid=absent)
        parts = [p for p in (self.descriptions.get(example.key), example.scene) if p]
        moment = timeutil.parse(example.prompted_on or example.at)
        day: date | None = moment.astimezone(self.config.schedule.zone).date() if moment else None
        # No primed first words: the model learns the owner's whole caption, opening included, and is prompted
        # the same way once promoted (bot.captions.stage: lead only for the base model).
        photos = len(photos_of(example))
        prompt = build_prompt(self.config, example.pets, scene="; ".join(parts) or None, examples=shown,
                              hint=example.hint, day=day, prime=False, photos=max(1, photos),
                              images=min(photos, self._context.MAX_SET_IMAGES))
        self._cache[example.key] = prompt
        return prompt


def sample_for(backend: Any, prompts: Prompts, example: ds.Example) -> Any:
    from training.backend import Sample

    prompt = prompts(example)
    shown = photos_of(example)[:prompt.images]
    return Sample(key=example.key, prompt=backend.render(prompt), target=example.caption,
                  image=shown[0] if shown else example.photo, others=shown[1:])
