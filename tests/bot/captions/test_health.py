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


def test_example_config_smolvlm_is_not_downloaded_so_its_needs_are_only_said(tmp_path):
    config = load_config(write_config(tmp_path / "pawpost", {"models": {"device": "cpu"}}))
    checks = _by_name(config)
    runtime = checks["captioner runtime"]
    if EXTRA_INSTALLED:
        assert runtime.ok
    else:  # what its processor needs is known once it is downloaded: said, not claimed
        assert runtime.ok and runtime.warning and "pip install 'pawpost[vlm]'" in runtime.message
    model = checks["model captioner"]
    assert model.ok and model.warning and "not downloaded yet" in model.message


def test_local_folders_are_found(tmp_path, tiny_vlm, tiny_blip, tiny_writer):
    checks = _by_name(caption_config(tmp_path / "a", captioner_models(tiny_vlm)))
    assert checks["model captioner"].ok and not checks["model captioner"].warning
    # An Idefics3 captioner does not need the extra: its processor loads, and nothing else is said.
    assert checks["captioner runtime"].ok and not checks["captioner runtime"].warning
    assert "processor loads" in checks["captioner runtime"].message
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


def test_a_smolvlm_named_captioner_is_not_said_to_need_the_extra_before_its_processor_is_asked(tmp_path, tiny_vlm):
    """SmolVLM v1 (an Idefics3 model) works without torchvision and num2words: a name is no evidence."""
    import shutil

    from tests.conftest import run_cli

    local = tmp_path / "SmolVLM-256M-Instruct"
    shutil.copytree(tiny_vlm, local)
    config = caption_config(tmp_path / "a", captioner_models(local))
    runtime = _by_name(config)["captioner runtime"]
    assert runtime.ok and "processor loads" in runtime.message and "needs" not in runtime.message

    hub = caption_config(tmp_path / "b", {"captioner": "HuggingFaceTB/SmolVLM-256M-Instruct"})
    runtime = _by_name(hub)["captioner runtime"]
    assert runtime.ok, runtime.message  # not downloaded: nothing is known yet, so nothing is claimed
    doctor = run_cli("doctor", config=hub.source)
    assert "needs torchvision" not in doctor.stdout + doctor.stderr


def test_a_processor_that_does_not_load_fails_with_its_reason(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "idefics3"}')
    runtime = _by_name(caption_config(tmp_path / "a", captioner_models(broken)))["captioner runtime"]
    assert not runtime.ok and "does not load here" in runtime.message
