"""One source for defaults: what `pawpost init` writes, config.example.toml and the README's config examples agree
with the code (bot/config/sections.py) on every key; the few keys an example sets on purpose are listed here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, Section
from bot.home import NO_GPU_MODELS, init
from tests.conftest import REPO

# What config.example.toml sets on purpose: a household to try pawpost on (two pets, their account's voice,
# hashtags and themes, a time zone). Every other key it sets is the default.
EXAMPLE_SETS = {"pets", "captions.voice", "captions.hashtags", "captions.themes", "schedule.timezone"}
# What the README's ```toml examples set on purpose: the review site on the LAN, and notification URLs.
README_SETS = {"web.enabled", "web.listen", "web.public_url", "web.trusted_proxies", "notify.urls"}

KEY = re.compile(r"^\s*(#\s*)?([A-Za-z_]+)\s*=")
HEADER = re.compile(r"^\s*(?:#\s*)?\[\[?([a-z_.]+)\]\]?")


def section_model(name: str) -> type[Section]:
    """The model of `captions` or `captions.themes`."""
    model: Any = Config
    for part in name.split("."):
        model = model.model_fields[part].annotation
    return model


def differing(data: dict[str, Any]) -> set[str]:
    """The `section.key`s of a parsed config file whose value is not the code's default (`pets`: any pets)."""
    out = {"pets"} if data.get("pets") else set()
    for section, table in data.items():
        if section == "pets":
            continue
        model = section_model(section)
        for key, value in table.items():
            default = getattr(model(), key)
            if getattr(model.model_validate({key: value}), key) != default:
                out.add(f"{section}.{key}")
    return out


def listed_keys(text: str) -> set[str]:
    """Every `section.key` a config file names, set or commented out, under its (possibly commented) header."""
    found, section = set(), ""
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            section = header.group(1)
            continue
        key = KEY.match(line)
        if key and section:
            found.add(f"{section}.{key.group(2)}")
    return found


def every_key() -> set[str]:
    keys: set[str] = set()
    for section, field in Config.model_fields.items():
        if section == "source":
            continue
        model = field.annotation
        if section == "pets":
            model = Config.model_fields["pets"].annotation.__args__[0]
        for key, sub in model.model_fields.items():
            if isinstance(sub.annotation, type) and issubclass(sub.annotation, Section):
                keys |= {f"{section}.{key}.{k}" for k in sub.annotation.model_fields}
                continue
            keys.add(f"{section}.{key}")
    return keys


def test_every_key_is_named_in_the_starter_and_the_example() -> None:
    wanted = every_key()
    assert "captions.themes.season" in wanted and "notify.timeout_seconds" in wanted and "graph.api_version" in wanted
    for text in ((REPO / "bot" / "starter.toml").read_text(), (REPO / "config.example.toml").read_text()):
        named = listed_keys(text)
        assert wanted - named == set()
        assert named - wanted == set()  # nor any key the code does not know


def test_pawpost_init_writes_only_defaults(tmp_path: Path) -> None:
    done = init(tmp_path / "home", gpu=True)
    data = tomllib.loads(done.config_file.read_text())
    assert set(data) >= {"paths", "captions", "models", "schedule", "instagram", "graph", "web", "notify", "retrain"}
    assert differing(data) == set()
    assert "pets" not in data  # the owner's pets are a commented example
    # Loaded, it is the code's defaults (paths resolved against the config's folder).
    loaded = Config(**tomllib.loads(done.config_file.read_text()))
    defaults = Config()
    for section in Config.model_fields:
        if section != "source":
            assert getattr(loaded, section) == getattr(defaults, section), section


def test_pawpost_init_without_a_gpu_sets_the_no_gpu_caption_models(tmp_path: Path) -> None:
    done = init(tmp_path / "home", gpu=False)
    assert done.no_gpu
    data = tomllib.loads(done.config_file.read_text())
    models = data.pop("models")
    assert differing(data) == set()  # every other section keeps the defaults
    assert {k for k, v in models.items() if v != getattr(Config().models, k)} == {"detector", "describer", "writer"}
    loaded = Config(**data, models=models)
    assert loaded.models.two_stage and loaded.captions.candidates == 8
    assert {k: getattr(loaded.models, k) for k in NO_GPU_MODELS} == NO_GPU_MODELS


def test_the_example_config_sets_only_its_listed_keys() -> None:
    data = tomllib.loads((REPO / "config.example.toml").read_text())
    # Exactly these differ: the list stays precise both ways.
    assert differing(data) == EXAMPLE_SETS


def readme_toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_the_readmes_config_examples_agree_with_the_defaults() -> None:
    blocks = readme_toml_blocks()
    assert blocks
    found: set[str] = set()
    for block in blocks:
        found |= differing(tomllib.loads(block))
    assert found == README_SETS


@pytest.mark.parametrize(("text", "key"), [("[captions]\nmax_hashtags = 3\n", "captions.max_hashtags"),
                                         ("[models]\ncaptioner = \"other\"\n", "models.captioner")])
def test_a_value_off_the_default_is_caught(text: str, key: str) -> None:
    # Positive control for the comparisons above.
    assert differing(tomllib.loads(text)) == {key}
