"""`pawpost doctor` lines for the caption models."""

from __future__ import annotations

import importlib.util

from bot.captions.health import caption_checks
from bot.config import load_config
from bot.store.database import Store
from tests.conftest import write_config

from .conftest import caption_config, captioner_models, two_stage_models

EXTRA_INSTALLED = all(importlib.util.find_spec(n) for n in ("torchvision", "num2words"))


def _by_name(config):
    return {c.name: c for c in caption_checks(config)}


def test_example_config_smolvlm_needs_the_extra_and_is_not_downloaded(tmp_path):
    config = load_config(write_config(tmp_path / "pawpost", {"models": {"device": "cpu"}}))
    checks = _by_name(config)
    runtime = checks["captioner runtime"]
    if EXTRA_INSTALLED:
        assert runtime.ok
    else:
        assert not runtime.ok and "pip install 'pawpost[vlm]'" in runtime.message
    model = checks["model captioner"]
    assert model.ok and model.warning and "not downloaded yet" in model.message


def test_local_folders_are_found(tmp_path, tiny_vlm, tiny_blip, tiny_writer):
    checks = _by_name(caption_config(tmp_path / "a", captioner_models(tiny_vlm)))
    assert checks["model captioner"].ok and not checks["model captioner"].warning
    # An Idefics3 captioner does not need the extra; it is only mentioned.
    assert checks["captioner runtime"].ok
    checks = _by_name(caption_config(tmp_path / "b", two_stage_models(tiny_blip, tiny_writer)))
    assert "captioner runtime" not in checks and "model captioner" not in checks
    assert checks["model describer"].ok and checks["model writer"].ok


def test_a_folder_without_a_model_and_a_load_error_fail(tmp_path, tiny_vlm):
    empty = tmp_path / "empty"
    empty.mkdir()
    config = caption_config(tmp_path / "a", captioner_models(empty))
    assert not _by_name(config)["model captioner"].ok
    config = caption_config(tmp_path / "b", captioner_models(tiny_vlm))
    with Store.for_config(config) as store:
        store.put("model_error:captioner", "not enough GPU memory")
    check = _by_name(config)["model captioner"]
    assert not check.ok and "not enough GPU memory" in check.message
