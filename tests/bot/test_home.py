"""bot/home.py and the config search path: `init` (a private data folder, a config every command finds),
$XDG_CONFIG_HOME, and the setup problems `status` reports (no pets, pets without reference photos)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from bot.config import find_config_path, load_config
from bot.errors import ConfigError
from tests.conftest import REPO, run_cli, write_config


def test_init_makes_a_private_data_folder_and_a_config_found_from_anywhere(tmp_path: Path) -> None:
    home = tmp_path / "home"  # $HOME in every test (tests/conftest.py)
    r = run_cli("init", str(tmp_path / "pawpost"))
    assert r.returncode == 0, r.stderr
    data = tmp_path / "pawpost" / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    link = home / ".config" / "pawpost" / "config.toml"
    assert link.resolve() == tmp_path / "pawpost" / "pawpost.toml"
    assert f"linked {link}" in r.stdout and "run 'pawpost doctor' and 'pawpost run'" in r.stdout
    # The suggested commands work as written: no --config, from another folder (run_cli runs in the repo).
    status = run_cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert "drafts" in json.loads(status.stdout)
    # Relative paths still resolve against the real config's folder, not the link's.
    assert load_config(link).paths.data == data
    # A second home does not take the link over: its commands need --config, and init says so.
    again = run_cli("init", str(tmp_path / "second"))
    assert link.resolve() == tmp_path / "pawpost" / "pawpost.toml"
    assert f"'pawpost --config {tmp_path / 'second' / 'pawpost.toml'} doctor'" in again.stdout


def test_xdg_config_home_is_on_the_search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    with pytest.raises(ConfigError, match="no config file found"):
        find_config_path()
    (xdg / "pawpost").mkdir(parents=True)
    (xdg / "pawpost" / "config.toml").write_text("")
    assert find_config_path() == xdg / "pawpost" / "config.toml"
    # A relative $XDG_CONFIG_HOME is ignored, as the XDG spec says: back to ~/.config.
    monkeypatch.setenv("XDG_CONFIG_HOME", "xdg")
    with pytest.raises(ConfigError, match="no config file found"):
        find_config_path()


def test_init_honours_xdg_config_home(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    r = run_cli("init", str(tmp_path / "p"), env={"XDG_CONFIG_HOME": str(xdg)})
    assert r.returncode == 0, r.stderr
    assert (xdg / "pawpost" / "config.toml").resolve() == tmp_path / "p" / "pawpost.toml"
    assert run_cli("status", env={"XDG_CONFIG_HOME": str(xdg)}).returncode == 0


def test_status_says_when_pets_cannot_be_recognised(tmp_path: Path) -> None:
    none = write_config(tmp_path / "none", pets=[])
    doc = json.loads(run_cli("status", "--json", config=none).stdout)
    assert doc["setup_problems"] == ["no [[pets]] in the config: photos cannot be recognised as your pets; add one "
                                     "[[pets]] table per pet (see config.example.toml)"]
    human = run_cli("status", config=none)
    assert human.returncode == 0 and "setup:     no [[pets]] in the config" in human.stdout

    cfg = write_config(tmp_path / "two", pets=[{"name": "Lola", "photos": "pets/lola"},
                                               {"name": "Pico", "photos": "pets/pico"}])
    (cfg.parent / "pets" / "pico").mkdir(parents=True)
    (cfg.parent / "pets" / "pico" / "1.jpg").write_bytes(b"a photo")
    problems = json.loads(run_cli("status", "--json", config=cfg).stdout)["setup_problems"]
    assert len(problems) == 1 and problems[0].startswith("Lola has no reference photos")
    assert f"{cfg.parent / 'pets' / 'lola'} does not exist" in problems[0]
    (cfg.parent / "pets" / "lola").mkdir()
    problems = json.loads(run_cli("status", "--json", config=cfg).stdout)["setup_problems"]
    assert "pets/lola has no photos yet" in problems[0]


def test_the_readme_diagram_names_only_real_commands() -> None:
    readme = (REPO / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if "CLI:" in ln)
    words = re.findall(r"[a-z]+", line.split("CLI:")[1])
    drafts_help = run_cli("drafts", "--help").stdout
    commands = set(re.findall(r"^  ([a-z]+)\s", drafts_help, re.MULTILINE))
    assert words and set(words) <= commands, set(words) - commands


def test_init_proposes_the_no_gpu_caption_models_without_a_gpu(tmp_path: Path) -> None:
    import tomllib

    from bot.home import NO_GPU_MODELS

    done = run_cli("init", str(tmp_path / "cpu"), "--no-gpu")
    assert done.returncode == 0, done.stderr
    assert "no GPU found" in done.stdout and NO_GPU_MODELS["writer"] in done.stdout
    models = tomllib.loads((tmp_path / "cpu" / "pawpost.toml").read_text())["models"]
    assert (models["describer"], models["writer"]) == (NO_GPU_MODELS["describer"], NO_GPU_MODELS["writer"])
    done = run_cli("init", str(tmp_path / "gpu"), "--gpu")
    assert done.returncode == 0 and "no GPU" not in done.stdout
    models = tomllib.loads((tmp_path / "gpu" / "pawpost.toml").read_text())["models"]
    assert "describer" not in models and "writer" not in models
