"""Whether a local model folder holds what the transformers loaders read: a config.json and the weights
(one file, or every shard its index names). Looked at on disk only; nothing is loaded and torch is not imported.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.check import Check

# What `from_pretrained` reads from a folder, in its order: a single weights file, or an index naming the shards.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def local_model_problem(folder: Path) -> str | None:
    """What keeps `folder` from loading as a saved model (words after the folder's name), or None if it looks whole."""
    if not folder.exists():
        return "does not exist"
    if not folder.is_dir():
        return "is a file, not a saved model folder"
    if not (folder / "config.json").is_file():
        return "has no config.json"
    for index in WEIGHT_INDEXES:
        if (folder / index).is_file():
            try:
                shards = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return f"has an unreadable {index}"
            missing = [s for s in shards if not (folder / s).is_file() or (folder / s).stat().st_size == 0]
            if missing:
                return f"lacks the weights file {missing[0]} ({len(missing)} of the {len(shards)} its {index} names)"
            return None
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return None if (folder / name).stat().st_size else f"has an empty {name}"
    return "holds no weights (model.safetensors or pytorch_model.bin)"


def local_model_check(key: str, model_id: str) -> Check | None:
    """The doctor's line for models.`key` when it names a local path (None for a hub id): FAIL unless it holds a
    model, so an emptied or half-copied folder is seen before the first photo waits on it."""
    folder = Path(model_id)
    if not folder.is_absolute():  # the config makes a local model's path absolute; anything else is a hub id
        return None
    problem = local_model_problem(folder)
    if problem is None:
        return Check(f"model {key}", True, f"{model_id} (local folder)")
    return Check(f"model {key}", False, f"{model_id} {problem}; point models.{key} at a folder a model was saved to "
                 "(save_pretrained, or 'pawpost models download --to DIR'), or at a hub id")
