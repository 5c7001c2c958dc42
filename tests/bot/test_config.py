"""Config loading: file, environment overrides, relative paths, and each kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import find_config_path, load_config
from bot.errors import ConfigError
from tests.conftest import REPO, run_cli, write_config


def test_example_config_is_valid_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "pawpost.toml"
    target.write_text((REPO / "config.example.toml").read_text())
    config = load_config(target)
    assert [p.name for p in config.pets] == ["Lola", "Pico"]
    assert config.schedule.timezone == "Europe/Madrid"
    assert config.captions.max_hashtags == 5
    assert config.instagram.publisher == "dry-run"
    assert config.captions.themes.date["12-25"] == "Christmas"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path / "home", {"paths": {"inbox": "in/box", "data": "../elsewhere"}},
                        pets=[{"name": "Lola", "photos": "pets/lola"}])
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    config = load_config(path)
    assert config.paths.inbox == (tmp_path / "home" / "in" / "box").resolve()
    assert config.paths.data == (tmp_path / "elsewhere").resolve()
    assert config.pets[0].photos == (tmp_path / "home" / "pets" / "lola").resolve()
    assert config.paths.database == config.paths.data / "pawpost.db"
    assert config.session_file == config.paths.data / "instagram-session.json"


def test_local_model_folder_resolves_but_hub_id_stays(tmp_path: Path) -> None:
    (tmp_path / "home" / "models" / "det").mkdir(parents=True)
    path = write_config(tmp_path / "home", {"models": {"detector": "models/det", "embedder": "facebook/dinov2-small"}})
    config = load_config(path)
    assert config.models.detector == str(tmp_path / "home" / "models" / "det")
    assert config.models.embedder == "facebook/dinov2-small"


def test_environment_overrides_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAWPOST_SCHEDULE__TIMEZONE", "America/New_York")
    monkeypatch.setenv("PAWPOST_CAPTIONS__CANDIDATES", "7")
    monkeypatch.setenv("PAWPOST_SCHEDULE__SLOTS", '["08:00", "20:15"]')
    config = load_config(home / "pawpost.toml")
    assert config.schedule.timezone == "America/New_York"
    assert config.captions.candidates == 7
    assert config.schedule.slots == ["08:00", "20:15"]
    assert config.captions.voice  # untouched keys keep the file's values


def test_secret_from_env_or_file_and_never_in_repr(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = home / "pw.txt"
    secret.write_text("hunter2-file\n")
    path = write_config(home, {"instagram": {"publisher": "instagrapi", "username": "lola", "password_file": "pw.txt"}})
    config = load_config(path)
    assert config.instagram.secret_password() == "hunter2-file"
    monkeypatch.setenv("PAWPOST_INSTAGRAM__PASSWORD", "hunter2-env")
    config = load_config(path)
    assert config.instagram.secret_password() == "hunter2-env"
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.model_dump())


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"paths": {"inbx": "x"}}, "paths.inbx: unknown key"),
        ({"captions": {"max_hashtags": "five"}}, "captions.max_hashtags: Input should be a valid integer"),
        # Instagram's own limit (bot.limits.MAX_HASHTAGS) is the ceiling: a higher cap would only fail at posting.
        ({"captions": {"max_hashtags": 6}}, "captions.max_hashtags: Input should be less than or equal to 5"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "schedule.timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"schedule": {"slots": ["7pm"]}}, "schedule.slots: slot '7pm' must be HH:MM"),
        ({"approval": {"mode": "sometimes"}}, "approval.mode: Input should be 'manual', 'auto' or 'confident'"),
        ({"models": {"device": "gpu"}}, "models.device: must be auto, cpu, cuda, cuda:N or mps"),
        ({"models": {"describer": "x"}}, "describer and writer must be set together"),
        ({"instagram": {"publisher": "instagrapi"}}, "username is required"),
        ({"instagram": {"publisher": "telegram"}}, "instagram.publisher: 'telegram' is not a publisher pawpost "
         "knows (one of: dry-run, notify, graph, instagrapi)"),
        ({"typo_section": {"a": 1}}, "typo_section: unknown key"),
    ],
)
def test_each_kind_of_error_names_the_key(tmp_path: Path, sections: dict, expected: str) -> None:
    from bot.publish.publishers.registry import load_checked_config  # the config as the CLI and the daemon load it

    path = write_config(tmp_path / "home", sections)
    with pytest.raises(ConfigError) as err:
        load_checked_config(path)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_required_pet_name(tmp_path: Path) -> None:
    path = write_config(tmp_path / "home", pets=[{"species": "cat"}])
    with pytest.raises(ConfigError, match=r"pets\[0\]\.name: required key is missing"):
        load_config(path)


def test_duplicate_pet_names_and_bad_hashtag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two pets are named"):
        load_config(write_config(tmp_path / "a", pets=[{"name": "Lola"}, {"name": "lola"}]))
    with pytest.raises(ConfigError, match="is not a hashtag"):
        load_config(write_config(tmp_path / "b", {"captions": {"hashtags": ["#two words"]}}))


def test_bad_env_override_is_reported(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAWPOST_SCHEDULE__MAX_POSTS_PER_DAY", "lots")
    with pytest.raises(ConfigError, match=r"schedule\.max_posts_per_day"):
        load_config(home / "pawpost.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    bad = tmp_path / "pawpost.toml"
    bad.write_text("[paths\ninbox = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no config file found"):
        find_config_path()
    home_cfg = tmp_path / "home" / ".config" / "pawpost" / "config.toml"
    home_cfg.parent.mkdir(parents=True)
    home_cfg.write_text("")
    assert find_config_path() == home_cfg
    (tmp_path / "pawpost.toml").write_text("")
    assert find_config_path() == Path("pawpost.toml")
    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text("")
    monkeypatch.setenv("PAWPOST_CONFIG", str(env_cfg))
    assert find_config_path() == env_cfg
    assert find_config_path(str(home_cfg)) == home_cfg
    with pytest.raises(ConfigError, match="does not exist"):
        find_config_path(tmp_path / "nope.toml")


def test_config_error_is_one_line_exit_1_no_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path / "home", {"schedule": {"max_posts_per_day": "two"}})
    result = run_cli("status", config=path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "schedule.max_posts_per_day" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_env_errors_name_the_variable_and_unknown_sections_are_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAWPOST_SCHEDULE__TIMEZONE", "Nope/Nowhere")
    with pytest.raises(ConfigError, match=r"^\$PAWPOST_SCHEDULE__TIMEZONE: schedule\.timezone"):
        load_config(home / "pawpost.toml")
    monkeypatch.delenv("PAWPOST_SCHEDULE__TIMEZONE")
    monkeypatch.setenv("PAWPOST_SCHEDUEL__SLOTS", '["08:00"]')
    with pytest.raises(ConfigError, match=r"PAWPOST_SCHEDUEL__SLOTS: there is no config section 'scheduel'"):
        load_config(home / "pawpost.toml")


def test_caption_candidates_default_by_the_caption_model(tmp_path) -> None:
    """Unset, captions.candidates follows the caption model (issue 13's sweep: a small writer needs 8, the chat VLM
    keeps 4 for GPU memory); a configured value always wins."""
    from bot.config import CANDIDATES_CHAT_VLM, CANDIDATES_SMALL_WRITER, Config

    assert Config().captions.candidates == CANDIDATES_CHAT_VLM == 4
    two_stage = {"describer": "blip", "writer": "smollm"}
    assert Config(models=two_stage).captions.candidates == CANDIDATES_SMALL_WRITER == 8
    assert Config(models=two_stage, captions={"candidates": 3}).captions.candidates == 3
    assert Config(captions={"candidates": 6}).captions.candidates == 6
