"""The model registry: versions, the atomic `current` pointer, rollback, and what `models list` shows."""

from __future__ import annotations

import json
import shutil

import pytest

from bot.captions.registry import CaptionModel, Decision, Registry, caption_model, style_examples_for
from bot.errors import NotFound, PawpostError
from tests.conftest import run_cli

GOOD = {"cider": 1.2, "bleu": 20.0, "rouge_l": 0.4, "refused_share": 0.1}
BASE = {"cider": 0.5, "bleu": 10.0, "rouge_l": 0.3, "refused_share": 0.2}
GATE = {"method": "paired bootstrap", "primary_metric": "bleu",
        "metrics": {"bleu": {"old": 10.0, "new": 20.0, "change": 10.0, "low": 4.5, "high": 15.2},
                    "refused_share": {"old": 0.2, "new": 0.1, "change": -0.1, "low": -0.2, "high": 0.0}},
        "checks": [{"check": "held-out posts", "passed": True, "detail": "10"}]}


def make_version(registry: Registry, promote: bool, reason: str = "test", style_examples: int | None = 0) -> str:
    version = registry.create("writer", "base/model", settings={"style_examples": style_examples, "steps": 80})
    version.adapter_dir.mkdir()
    (version.adapter_dir / "adapter_config.json").write_text("{}")
    done = registry.finish(version, metrics={"new": GOOD, "old": BASE, "gate": GATE, "plan": {"done_steps": 80}},
                           counts={"train": 8, "holdout": 2}, keys=["draft:1", "draft:2"],
                           decision=Decision(promote, reason))
    return done.id


def test_versions_are_listed_only_when_finished(config):
    registry = Registry(config)
    unfinished = registry.create("writer", "base/model")
    assert registry.versions() == []
    assert registry.current_id() is None
    vid = make_version(registry, promote=False, reason="not better")
    assert unfinished.id == "v001" and vid == "v002"
    [v] = registry.versions()
    assert (v.id, v.promoted, v.current, v.reason) == ("v002", False, False, "not better")
    assert v.metrics["new"]["cider"] == 1.2 and v.counts == {"train": 8, "holdout": 2}
    assert registry.examples(v) == ["draft:1", "draft:2"]
    registry.discard(unfinished)
    assert not unfinished.path.exists()
    assert make_version(registry, promote=True) == "v003"


def test_promotion_switches_current_and_rollback_walks_back(config):
    registry = Registry(config)
    first = make_version(registry, promote=True)
    kept = make_version(registry, promote=False)
    second = make_version(registry, promote=True)
    assert registry.current_id() == second
    assert [v.id for v in registry.versions() if v.current] == [second]
    assert registry.current_adapter("base/model") == registry.adapter_dir(second)
    # An adapter made for another base model is never applied to the configured one.
    assert registry.current_adapter("other/model") is None

    assert registry.rollback().id == first  # the kept-but-not-promoted version is skipped
    assert registry.current_id() == first
    assert registry.rollback() is None  # back to the base model
    assert registry.current_id() is None
    with pytest.raises(PawpostError, match="no promoted caption model"):
        registry.rollback()
    # A version can be promoted again by hand, e.g. after a rollback.
    registry.promote(kept, "by hand")
    assert registry.current().id == kept and registry.current().promoted


def test_current_pointer_is_a_small_json_file(config):
    registry = Registry(config)
    vid = make_version(registry, promote=True)
    pointer = json.loads((registry.root / "current.json").read_text())
    assert pointer["version"] == vid and pointer["history"] == [vid]
    assert not [p for p in registry.root.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(NotFound):
        registry.version("v999")


def test_models_cli_list_and_rollback(home, config):
    registry = Registry(config)
    first = make_version(registry, promote=True)
    make_version(registry, promote=True)
    listed = run_cli("models", "list", "--json", config=home / "pawpost.toml")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [(v["id"], v["current"]) for v in data] == [("v001", False), ("v002", True)]
    assert data[0]["metrics"]["new"]["cider"] == 1.2
    # The gate's evidence: per metric old, new and the interval of the change.
    assert data[1]["metrics"]["gate"]["metrics"]["bleu"] == GATE["metrics"]["bleu"]
    assert data[1]["settings"]["style_examples"] == 0

    back = run_cli("models", "rollback", config=home / "pawpost.toml")
    assert back.returncode == 0, back.stderr
    assert f"to {first}" in back.stdout
    assert Registry(config).current_id() == first
    table = run_cli("models", "list", config=home / "pawpost.toml")
    assert "v002" in table.stdout and "*" in table.stdout
    assert all(part in table.stdout for part in ("10.0", "20.0", "+4.5", "+15.2", "20%", "10%"))


def test_a_version_says_how_many_style_examples_its_prompts_show(config):
    from bot.runtime.ml import Runtime
    from bot.runtime.services import make_captioner

    registry = Registry(config)
    none = registry.adapter_dir(make_version(registry, promote=True, style_examples=0))
    assert style_examples_for(none) == 0
    some = registry.adapter_dir(make_version(registry, promote=True, style_examples=2))
    assert style_examples_for(some) == 2
    # A version from before the count was recorded: the config's captions.style_examples applies.
    assert style_examples_for(registry.adapter_dir(make_version(registry, promote=False, style_examples=None))) is None
    config.models = config.models.model_copy(update={"writer": "base/model", "describer": "base/describer"})
    captioner = make_captioner(config, Runtime("cpu", "float32"))
    assert (captioner.adapter_dir, captioner.style_examples) == (some, 2)


def test_status_shows_the_caption_model_version_in_use(store, config):
    from bot.status import models_status

    assert models_status(store, config)["captioner"]["version"] is None
    registry = Registry(config)
    version = registry.create("vlm", config.models.captioner)
    version.adapter_dir.mkdir()
    registry.finish(version, metrics={}, counts={}, keys=[], decision=Decision(True, "better"))
    assert models_status(store, config)["captioner"]["version"] == "v001"
    # A version trained for another base model is not in use.
    make_version(registry, promote=True)
    assert models_status(store, config)["captioner"]["version"] is None


def test_models_list_and_a_skipped_retrain_do_not_import_torch(home):
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys; from bot.cli import cli; "
            f"cli.main(['--config', {str(home / 'pawpost.toml')!r}, *sys.argv[1:]], standalone_mode=False); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    for args in (["models", "list", "--json"], ["retrain", "--json"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "False False", args


def test_one_answer_to_which_model_writes_captions(config):
    assert caption_model(config) == CaptionModel("captioner", config.models.captioner, "vlm")
    registry = Registry(config)
    make_version(registry, promote=True)  # trained on "base/model", not the configured captioner
    assert registry.in_use() is None
    config.models = config.models.model_copy(update={"writer": "base/model", "describer": "base/describer"})
    assert caption_model(config) == CaptionModel("writer", "base/model", "writer")
    in_use = Registry(config).in_use()
    assert in_use is not None and in_use.id == "v001"
    # Its adapter gone (deleted by hand): the base model writes again.
    shutil.rmtree(in_use.adapter_dir)
    assert Registry(config).in_use() is None
