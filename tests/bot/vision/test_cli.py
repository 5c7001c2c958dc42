"""`pawpost pets add/list/identify/eval` and `pawpost drafts pets`, as the owner runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import timeutil
from bot.cli import cli
from bot.drafts.media import add_draft
from bot.store.database import Store
from tests import tiny_vision
from tests.bot.vision.conftest import add_photo, load
from tests.conftest import REPO


def invoke(config_path: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_pets_list_needs_no_models(vision_home) -> None:
    path = vision_home()
    code = ("import sys, json; from bot.cli import cli; "
            f"cli.main(args=['--config', {str(path)!r}, 'pets', 'list', '--json'], standalone_mode=False); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    listing, imported = out.stdout.rsplit("\n{", 1)
    assert json.loads("{" + imported) == {"torch": False, "transformers": False}
    pets = json.loads(listing)
    assert [(p["name"], p["folder_photos"], p["references"], p["not_enrolled"]) for p in pets] == [
        ("Lola", 3, 0, 3), ("Pico", 3, 0, 3)]


def test_add_then_identify(vision_home, tmp_path: Path) -> None:
    path = vision_home()
    photo = tiny_vision.save_photo(tiny_vision.pet_photo("blue", 14), tmp_path / "pico-sofa.jpg")
    out = invoke(path, "pets", "add", "Pico", str(photo))
    assert "1 reference photo(s) added to Pico" in out

    found = json.loads(invoke(path, "pets", "identify", str(photo), "--json"))
    assert [p["name"] for p in found["pets"]] == ["Pico"]
    pet = found["pets"][0]
    assert 0.5 < pet["confidence"] <= 1 and pet["box"] == [0.0, 0.0, 96.0, 80.0]
    assert found["whole_image"] is True and found["unknown"] == 0 and found["no_animal"] is False

    pets = {p["name"]: p for p in json.loads(invoke(path, "pets", "list", "--json"))}
    assert pets["Pico"]["by_origin"] == {"config": 3, "added": 1, "correction": 0}

    text = invoke(path, "pets", "identify", str(photo))
    assert text.startswith("Pico: confidence")


def test_eval_reports_accuracy_unknown_rate_and_confusion(vision_home, tmp_path: Path) -> None:
    path = vision_home(match_threshold=0.95)
    labelled = tmp_path / "labelled"
    for folder, look, variants in (("lola", "red", [40, 41]), ("Pico", "blue", [40, 41]), ("none", "green", [40])):
        for v in variants:
            tiny_vision.save_photo(tiny_vision.pet_photo(look, v), labelled / folder / f"{v}.jpg")
    result = json.loads(invoke(path, "pets", "eval", str(labelled), "--json"))
    assert result["photos"] == 5 and result["labels"] == ["Lola", "Pico", "none"]
    confusion = result["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == 5
    assert confusion["Lola"]["Lola"] == 2 and confusion["Pico"]["Pico"] == 2
    correct = sum(confusion[label][label] for label in result["labels"])
    assert result["accuracy"] == pytest.approx(correct / 5, abs=1e-3)
    assert result["unknown_rate"] == 0.0
    # The sweep re-scores the same photos at nearby thresholds: at 1.0 no photo is close enough to any pet.
    by_t = {row["threshold"]: row for row in result["sweep"]}
    assert by_t[0.95] == {"threshold": 0.95, "accuracy": result["accuracy"], "unknown_rate": 0.0}
    assert by_t[1.0] == {"threshold": 1.0, "accuracy": 0.2, "unknown_rate": 1.0}
    assert len(by_t) == 6  # 0.75 .. 1.0

    text = invoke(path, "pets", "eval", str(labelled))
    assert "top-1 accuracy" in text and "unknown rate" in text and "Lola" in text

    (labelled / "rex").mkdir()
    bad = CliRunner().invoke(cli, ["--config", str(path), "pets", "eval", str(labelled)])
    assert bad.exit_code != 0 and "no pet named 'rex'" in str(bad.exception)


def test_drafts_pets_corrects_a_draft(vision_home) -> None:
    path = vision_home()
    config = load(path)
    with Store.for_config(config) as store:
        photo_id = add_photo(store, tiny_vision.pet_photo("red", 44), "lola.jpg")
        now = timeutil.iso(timeutil.now())
        draft_id = add_draft(store, [photo_id], status="pending", created_at=now, updated_at=now)
    out = invoke(path, "drafts", "pets", str(draft_id), "Pico")
    assert f"draft {draft_id}: pets set to Pico" in out and "1 new reference" in out
    shown = json.loads(invoke(path, "drafts", "show", str(draft_id), "--json"))
    assert shown["pets"] == ["Pico"]

    bad = CliRunner().invoke(cli, ["--config", str(path), "drafts", "pets", str(draft_id), "Rex"])
    assert bad.exit_code != 0 and "no pet named 'Rex'" in str(bad.exception)


def test_drafts_pets_is_saved_even_when_the_embedder_cannot_load(vision_home, tmp_path) -> None:
    path = vision_home(embedder=str(tmp_path / "no-such-embedder"))
    config = load(path)
    with Store.for_config(config) as store:
        photo_id = add_photo(store, tiny_vision.pet_photo("red", 45), "lola.jpg")
        now = timeutil.iso(timeutil.now())
        draft_id = add_draft(store, [photo_id], status="pending", created_at=now, updated_at=now)
    result = CliRunner().invoke(cli, ["--config", str(path), "drafts", "pets", str(draft_id), "Pico"])
    assert result.exit_code == 0, result.output
    assert f"draft {draft_id}: pets set to Pico" in result.output
    assert "nothing was learned" in result.output and "models.embedder" in result.output
    shown = json.loads(invoke(path, "drafts", "show", str(draft_id), "--json"))
    assert shown["pets"] == ["Pico"]
