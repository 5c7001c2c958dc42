"""Finding and reading the config file: the contract's search order, TOML, validation, paths made absolute.

`load_config` is the one way in; any problem is a ConfigError of one line (the words are in `refusals`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.config.paths import resolve_paths
from bot.config.refusals import (
    check_env_sections,
    check_inbox,
    check_inbox_is_own,
    describe_env_error,
    describe_validation_error,
    source_of,
)
from bot.config.settings import Config
from bot.errors import ConfigError

CONFIG_ENV = "PAWPOST_CONFIG"


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file by the contract's order: --config, $PAWPOST_CONFIG, ./pawpost.toml, then
    $XDG_CONFIG_HOME/pawpost/config.toml (~/.config when unset)."""
    if explicit:
        return _given_config(Path(explicit).expanduser(), "given with --config")
    env = os.environ.get(CONFIG_ENV)
    if env:
        return _given_config(Path(env).expanduser(), f"given by ${CONFIG_ENV}")
    for path in (Path("pawpost.toml"), user_config_path()):
        if path.is_file():
            return path
    raise ConfigError(
        "no config file found: pass --config PATH, set $PAWPOST_CONFIG, or run 'pawpost init' to create one"
    )


def _given_config(path: Path, how: str) -> Path:
    """A config path the owner named: a regular file, or one line saying what it is instead (never opened)."""
    if path.is_file():
        return path
    if path.is_dir():
        inside = path / "pawpost.toml"
        hint = f"; did you mean {inside}?" if inside.is_file() else "; give the path of its pawpost.toml"
        raise ConfigError(f"config file {path} is a folder, not a file ({how}){hint}")
    if os.path.lexists(path) and path.exists():
        raise ConfigError(f"config file {path} is not a regular file but a device, pipe or socket ({how}); "
                          "give the path of a pawpost.toml")
    raise ConfigError(f"config file {path} does not exist ({how})")


def user_config_path() -> Path:
    """The per-user config: $XDG_CONFIG_HOME/pawpost/config.toml, by default ~/.config/pawpost/config.toml."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec ignores a relative value: it would depend on the folder a command runs in.
    root = Path(base) if base and Path(base).is_absolute() else Path("~/.config").expanduser()
    return root / "pawpost" / "config.toml"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, override from the environment, validate and resolve paths; raise ConfigError on any problem."""
    file = find_config_path(path).resolve()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None
    check_env_sections()
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(f"{source_of(exc, file)}: {describe_validation_error(exc)}") from None
    except SettingsError as exc:  # an environment value that is not JSON where a table or list is expected
        raise ConfigError(describe_env_error(exc)) from None
    config = _resolve_paths(config, file)
    check_inbox(config, file)
    check_inbox_is_own(config, file)
    return config


def _resolve_paths(config: Config, file: Path) -> Config:
    resolve_paths(config, file.parent)
    config.source = file
    return config


def starter_text() -> str:
    """The starter config `pawpost init` writes (bot/starter.toml): every key of every section, each value the
    code's default or a commented-out example (the owner's pets, hashtags, themes)."""
    from importlib import resources

    return resources.files("bot").joinpath("starter.toml").read_text(encoding="utf-8")
