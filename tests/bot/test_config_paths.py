"""Every path-valued setting is kept out of the inbox (found by walking the settings), and `doctor` checks that a
local model folder holds a model: through the CLI, as an owner meets it."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.errors import ConfigError
from tests.bot.photofiles import photo
from tests.conftest import run_cli, write_config


def _model_folder(folder: Path) -> Path:
    """A folder laid out as save_pretrained leaves it (the doctor reads the layout; nothing loads it)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "owlv2"}')
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return folder


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and "data" not in p.relative_to(root).parts}


def _refused_everywhere(root: Path, cfg: Path, key: str) -> None:
    """doctor, ingest and run each refuse with one line naming `key`; nothing leaves the inbox, nothing is
    quarantined."""
    before = _tree(root)
    for command in (("doctor",), ("ingest",), ("run",)):
        result = run_cli(*command, config=cfg, timeout=60)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        [line] = result.stderr.splitlines()
        assert "paths.inbox" in line and key in line and "a folder of its own" in line, line
    assert _tree(root) == before
    quarantine = root / "data" / "quarantine"
    assert not quarantine.exists() or not any(quarantine.iterdir())


def test_an_inbox_holding_a_local_model_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg = write_config(root, {"models": {"detector": "inbox/owl"}})
    _model_folder(root / "inbox" / "owl")
    (root / "inbox" / "IMG_1.jpg").write_bytes(photo(1))

    _refused_everywhere(root, cfg, "models.detector")


def test_an_inbox_holding_the_graph_app_secret_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "home"
    cfg = write_config(root, {"graph": {"app_secret_file": "inbox/app-secret.txt"}})
    (root / "inbox" / "app-secret.txt").write_text("s3cret\n")
    (root / "inbox" / "IMG_1.jpg").write_bytes(photo(1))

    _refused_everywhere(root, cfg, "graph.app_secret_file")


def test_an_inbox_inside_a_model_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "home"
    model = _model_folder(root / "models" / "dino")
    cfg = write_config(root, {"models": {"embedder": "models/dino"}, "paths": {"inbox": "models/dino/drop"}})
    (model / "drop").mkdir()

    result = run_cli("ingest", config=cfg)

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "lies inside models.embedder" in line, line
    assert (model / "model.safetensors").is_file()


def _path_keys() -> list[tuple[str, str]]:
    """(section, key) of every setting typed as a path, read from the config's own model."""
    found = []
    for section, field in Config.model_fields.items():
        model = field.annotation
        if not isinstance(model, type) or not hasattr(model, "model_fields"):
            continue
        for key, sub in model.model_fields.items():
            if "Path" in str(sub.annotation) and (section, key) != ("paths", "inbox"):
                found.append((section, key))
    return found


@pytest.mark.parametrize(("section", "key"), _path_keys())
def test_every_path_setting_is_kept_out_of_the_inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     section: str, key: str) -> None:
    root = tmp_path / "home"
    cfg = write_config(root)
    target = root / "inbox" / "it"
    many = typing.get_origin(Config.model_fields[section].annotation.model_fields[key].annotation) is list
    monkeypatch.setenv(f"PAWPOST_{section.upper()}__{key.upper()}", json.dumps([str(target)]) if many
                       else str(target))

    with pytest.raises(ConfigError) as refused:
        load_config(cfg)

    assert f"{section}.{key}" in str(refused.value) and "paths.inbox" in str(refused.value)


def test_the_walk_covers_files_folders_and_local_models_and_leaves_hub_ids(tmp_path: Path) -> None:
    root = tmp_path / "home"
    _model_folder(root / "models" / "owl")
    cfg = write_config(root, {"models": {"detector": "models/owl", "strangers": "pets/others"},
                              "graph": {"app_secret_file": "secret.txt"}},
                       pets=[{"name": "Lola", "photos": "pets/lola"}])
    config = load_config(cfg)

    owned = dict(config.owned_paths())

    assert owned["models.detector"] == root / "models" / "owl"
    assert owned["models.strangers"] == root / "pets" / "others"
    assert owned["graph.app_secret_file"] == root / "secret.txt"
    assert owned["pets[0].photos (Lola)"] == root / "pets" / "lola"
    assert "models.embedder" not in owned and config.models.embedder == "facebook/dinov2-small"  # a hub id
    assert config.owns(root / "models" / "owl" / "model.safetensors") == "models.detector"


def _doctor_line(cfg: Path, name: str) -> dict:
    result = run_cli("doctor", "--json", config=cfg, timeout=120)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    return checks[name]


def test_doctor_fails_an_emptied_local_model_folder(tmp_path: Path) -> None:
    root = tmp_path / "home"
    owl = _model_folder(root / "models" / "owl")
    cfg = write_config(root, {"models": {"detector": "models/owl"}})

    whole = _doctor_line(cfg, "model detector")
    assert whole["ok"] and "local folder" in whole["message"]

    (owl / "model.safetensors").unlink()
    weightless = _doctor_line(cfg, "model detector")
    assert not weightless["ok"] and "holds no weights" in weightless["message"]

    (owl / "config.json").unlink()
    emptied = run_cli("doctor", config=cfg, timeout=120)
    assert emptied.returncode == 1
    assert "FAIL model detector:" in emptied.stdout and "has no config.json" in emptied.stdout


def test_doctor_fails_a_sharded_model_missing_a_shard(tmp_path: Path) -> None:
    root = tmp_path / "home"
    writer = root / "models" / "writer"
    writer.mkdir(parents=True)
    (writer / "config.json").write_text('{"model_type": "llama"}')
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    (writer / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": shards[0],
                                                                                    "b": shards[1]}}))
    (writer / shards[0]).write_bytes(b"\0" * 8)
    describer = _model_folder(root / "models" / "describer")
    cfg = write_config(root, {"models": {"describer": str(describer), "writer": "models/writer"}})

    line = _doctor_line(cfg, "model writer")

    assert not line["ok"] and shards[1] in line["message"]
