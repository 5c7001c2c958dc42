"""Owner errors are one line, never a traceback: a broken database or mount, list variables,
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


def test_a_bomb_over_pillows_own_guard_is_named_with_its_dimensions(home: Path, bombs: dict[str, Path]) -> None:
    line = _one_line(run_cli("pets", "identify", str(bombs["bomb"]), config=home / "pawpost.toml"))
    assert "20000×20000 (400 megapixels)" in line, line


def test_the_owner_can_raise_the_limit_for_pets_commands_too(tmp_path: Path, bombs: dict[str, Path]) -> None:
    from bot.errors import PawpostError
    from bot.vision.images import open_image

    with pytest.raises(PawpostError, match=r"over ingest\.max_megapixels = 120"):
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
    assert "'x' is not a draft id" in json.loads(result.stdout)["error"]


def test_candidate_and_caption_together_are_bad_usage(home: Path) -> None:
    result = run_cli("drafts", "approve", "1", "--candidate", "1", "--caption", "hi", config=home / "pawpost.toml")
    assert result.returncode == 2 and "either --candidate or --caption" in result.stderr


# -- point 4: a read-only data mount, a full disk ------------------------------------------------------


def _in_own_mounts(tmp_path: Path, setup: str, commands: list[tuple[str, ...]],
                   cfg: Path) -> list[tuple[int, str, str]]:
    """Run CLI commands in a private mount namespace after `setup` (mounts only this test sees)."""
    import shlex
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "out"
    out.mkdir()
    lines = ["set -e", setup, "set +e"]
    for i, command in enumerate(commands):
        argv = shlex.join([sys.executable, "-m", "bot", "--config", str(cfg), *command])
        lines.append(f"{argv} >{out}/{i}.out 2>{out}/{i}.err; echo $? >{out}/{i}.rc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}
    done = subprocess.run(["unshare", "-m", "sh", "-c", "\n".join(lines)], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    if done.returncode != 0 or not (out / "0.rc").exists():
        pytest.skip(f"no private mounts here: {done.stderr.strip()[:200]}")
    return [(int((out / f"{i}.rc").read_text()), (out / f"{i}.out").read_text(), (out / f"{i}.err").read_text())
            for i in range(len(commands))]


def _workspace_with_drafts(home: Path) -> Path:
    from bot.config import load_config
    from bot.store.database import Store
    from tests.bot.publish.conftest import make_draft

    with Store.for_config(load_config(home / "pawpost.toml")) as store:
        make_draft(store, "first")
        make_draft(store, "second", status="pending")
    return home / "pawpost.toml"


def test_a_read_only_data_mount_answers_reads_and_refuses_writes_in_one_line(home: Path, tmp_path: Path) -> None:
    cfg = _workspace_with_drafts(home)
    data = home / "data"
    results = _in_own_mounts(tmp_path, f"mount --bind {data} {data} && mount -o remount,ro,bind {data} {data}", [
        ("status", "--json"), ("drafts", "list", "--json"), ("drafts", "show", "2"), ("doctor",),
        ("drafts", "approve", "2"), ("drafts", "reject", "2"), ("run",)], cfg)

    (status_rc, status, _), (list_rc, listing, _), (show_rc, _, show_err) = results[:3]
    assert status_rc == 0 and json.loads(status)["drafts"]["approved"] == 1
    assert list_rc == 0 and len(json.loads(listing)) == 2
    assert show_rc == 0, show_err
    doctor_rc, doctor, _ = results[3]
    assert doctor_rc == 1 and "mounted read-only" in doctor and "chown" not in doctor
    for rc, _, err in results[4:]:
        assert rc == 1 and "Traceback" not in err, err
        [line] = err.strip().splitlines()
        assert "read-only" in line.lower(), line


def test_a_full_disk_is_one_line(home: Path, tmp_path: Path) -> None:
    cfg = _workspace_with_drafts(home)
    data = home / "data"
    saved = tmp_path / "saved"
    setup = (f"cp -a {data} {saved} && mount -t tmpfs -o size=2m tmpfs {data} && cp -a {saved}/. {data}/ && "
             f"(dd if=/dev/zero of={data}/filler bs=64k 2>/dev/null || true)")
    results = _in_own_mounts(tmp_path, setup, [("status", "--json"), ("drafts", "approve", "2"),
                                               ("drafts", "reject", "2", "--reason", "x" * 100_000), ("run",)], cfg)

    status_rc, status, _ = results[0]
    assert status_rc == 0 and json.loads(status)["drafts"]["pending"] == 1  # reads still answer
    for rc, _, err in results[1:]:
        assert rc == 1 and "Traceback" not in err, err
        [line] = err.strip().splitlines()
        assert "is full" in line and "free some space" in line, line


def test_a_database_with_damaged_pages_is_one_line_on_every_command(home: Path) -> None:
    cfg = _workspace_with_drafts(home)
    assert run_cli("status", config=cfg).returncode == 0  # checkpointed: everything is in the main file
    db = home / "data" / "pawpost.db"
    raw = bytearray(db.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)  # the header survives, the pages after it do not
    db.write_bytes(bytes(raw))

    for command in (("status", "--json"), ("drafts", "list"), ("schedule",), ("ingest", "--no-process"), ("doctor",)):
        result = run_cli(*command, config=cfg)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = result.stderr.strip().splitlines()
        if command[0] != "doctor":
            assert "is damaged" in line and "pawpost restore" in line, line
    assert json.loads(run_cli("status", "--json", config=cfg).stdout)["error"].startswith("the database")
