"""Owner errors are one line, never a traceback (issue 12, points 4-7): a broken database or mount, list variables,
oversized images, odd --config paths, --json errors, conflicting options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.bot.photofiles import png_bomb
from tests.conftest import run_cli, write_config


def _one_line(result, rc: int = 1) -> str:
    assert result.returncode == rc, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


# -- point 5: list variables as people type them --------------------------------------------------------


def test_comma_separated_list_variables_are_accepted(home: Path) -> None:
    env = {"PAWPOST_SCHEDULE__SLOTS": "10:15, 20:45", "PAWPOST_CAPTIONS__HASHTAGS": "#a,b"}
    result = run_cli("schedule", "--json", config=home / "pawpost.toml", env=env)
    assert result.returncode == 0, result.stderr
    times = {slot["at"][11:16] for slot in json.loads(result.stdout)["slots"]}
    assert times == {"10:15", "20:45"}

    from bot.config import load_config

    os.environ.update(env)
    try:
        config = load_config(home / "pawpost.toml")
    finally:
        for key in env:
            del os.environ[key]
    assert config.schedule.slots == ["10:15", "20:45"] and config.captions.hashtags == ["#a", "#b"]
    json_form = run_cli("status", config=home / "pawpost.toml", env={"PAWPOST_SCHEDULE__SLOTS": '["08:00"]'})
    assert json_form.returncode == 0, json_form.stderr


def test_a_table_variable_that_is_not_json_names_the_variable(home: Path) -> None:
    env = {"PAWPOST_CAPTIONS__THEMES__WEEKDAY": "friday=yay", "PAWPOST_SCHEDULE__SLOTS": "09:00"}
    line = _one_line(run_cli("status", config=home / "pawpost.toml", env=env))
    assert line.startswith("pawpost: error: $PAWPOST_CAPTIONS__THEMES__WEEKDAY: cannot be read")
    bad_slot = _one_line(run_cli("status", config=home / "pawpost.toml", env={"PAWPOST_SCHEDULE__SLOTS": "9,19:00"}))
    assert bad_slot.startswith("pawpost: error: $PAWPOST_SCHEDULE__SLOTS: ") and "'9'" in bad_slot


# -- point 6: one image size policy ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    out = {}
    for name, side in (("bomb", 20_000), ("big", 11_500)):  # 400 MP (over Pillow's own guard), 132 MP
        out[name] = folder / f"{name}.png"
        out[name].write_bytes(png_bomb(side))
    return out


@pytest.mark.parametrize("name", ["bomb", "big"])
@pytest.mark.parametrize("command", [("pets", "identify"), ("pets", "add", "Lola")])
def test_pets_commands_refuse_an_image_ingest_would_refuse(home: Path, bombs: dict[str, Path], name: str,
                                                          command: tuple[str, ...]) -> None:
    line = _one_line(run_cli(*command, str(bombs[name]), config=home / "pawpost.toml"))
    assert "over ingest.max_megapixels = 120" in line and str(bombs[name]) in line


def test_the_owner_can_raise_the_limit_for_pets_commands_too(tmp_path: Path, bombs: dict[str, Path]) -> None:
    from bot.errors import PawpostError
    from bot.vision.images import open_image

    with pytest.raises(PawpostError, match="over ingest.max_megapixels = 120"):
        open_image(bombs["big"], 120)
    assert open_image(bombs["big"], 140).size == (11_500, 11_500)


# -- point 7: odd --config paths, --json errors, conflicting options --------------------------------------


def test_a_config_path_that_is_not_a_file_says_what_it_is(home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = _one_line(run_cli("status", config=home))
    assert "is a folder, not a file" in folder and str(home / "pawpost.toml") in folder
    for path in (fifo, Path("/dev/null")):
        line = _one_line(run_cli("status", config=path))
        assert "is not a regular file" in line, line
    by_env = _one_line(run_cli("status", env={"PAWPOST_CONFIG": str(fifo)}))
    assert "is not a regular file" in by_env and "$PAWPOST_CONFIG" in by_env
    assert "does not exist" in _one_line(run_cli("status", config=tmp_path / "nope.toml"))


@pytest.mark.parametrize("argv", [("status", "--json"), ("drafts", "list", "--json"), ("drafts", "show", "7", "--json"),
                                  ("pets", "list", "--json")])
def test_json_errors_are_one_document_on_stdout(tmp_path: Path, argv: tuple[str, ...]) -> None:
    cfg = write_config(tmp_path / "home")
    missing = run_cli(*argv, config=tmp_path / "nope.toml")
    line = _one_line(missing)
    assert json.loads(missing.stdout) == {"error": line.removeprefix("pawpost: error: ")}
    if argv[:2] == ("drafts", "show"):
        result = run_cli(*argv, config=cfg)
        assert json.loads(result.stdout)["error"].startswith("there is no draft 7")


def test_a_usage_error_with_json_is_a_document_too(home: Path) -> None:
    result = run_cli("drafts", "show", "x", "--json", config=home / "pawpost.toml")
    assert result.returncode == 2
    assert "not a valid integer" in json.loads(result.stdout)["error"]


def test_candidate_and_caption_together_are_bad_usage(home: Path) -> None:
    result = run_cli("drafts", "approve", "1", "--candidate", "1", "--caption", "hi", config=home / "pawpost.toml")
    assert result.returncode == 2 and "either --candidate or --caption" in result.stderr
