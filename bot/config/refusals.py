"""The refusals of a wrong configuration, each one line: which key (or variable) is wrong, and why.

Also the checks no single section can make: a variable for a section that does not exist, an inbox that
holds pawpost's own files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.config.settings import ENV_PREFIX, Config
from bot.errors import ConfigError


def check_env_sections() -> None:
    """A PAWPOST_<SECTION>__<KEY> variable for a section that does not exist is a typo: say so."""
    sections = set(Config.model_fields) - {"source"}
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX) and "__" in name:
            section = name[len(ENV_PREFIX):].split("__", 1)[0].lower()
            if section not in sections:
                raise ConfigError(f"${name}: there is no config section {section!r} "
                                  f"(sections: {', '.join(sorted(sections))})")


def describe_env_error(exc: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(exc))
    section = match[1] if match else ""
    names = sorted(k for k in os.environ if k.upper().startswith(f"{ENV_PREFIX}{section.upper()}"))
    names = [k for k in names if not _is_json(os.environ[k])] or names  # the one that could not be decoded
    cause = exc.__cause__.__cause__ or exc.__cause__ if exc.__cause__ else None
    what = f"${names[0]}" if names else f"a ${ENV_PREFIX}{section.upper()}__... variable"
    return (f"{what}: cannot be read ({cause or exc}); write a list as JSON (e.g. '[\"09:30\", \"19:00\"]') or "
            "comma-separated (09:30,19:00), and a table as JSON")


def _is_json(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def source_of(exc: ValidationError, file: Path) -> str:
    """Where the wrong value came from: the environment variable that overrides the key, else the file."""
    loc = [str(p) for p in exc.errors()[0]["loc"]]
    for depth in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(loc[:depth]).upper()
        if any(key.upper() == name for key in os.environ):
            return f"${name}"
    return str(file)


def check_inbox(config: Config, file: Path) -> None:
    """Refuse an inbox that is, holds or lies inside anything pawpost reads or writes (every path-valued setting,
    the config file and its folder): ingest would take those files away."""
    inbox = config.paths.inbox.resolve()
    where = f"${ENV_PREFIX}PATHS__INBOX" if any(k.upper() == f"{ENV_PREFIX}PATHS__INBOX" for k in os.environ) \
        else str(file)
    advice = "give the inbox a folder of its own, such as photos/inbox beside the config"
    # The config's folder holds the config and, by default, the data folder and the pets' photos; an inbox inside
    # it is the usual layout.
    config_folder = file.parent.resolve()
    if config_folder == inbox or config_folder.is_relative_to(inbox):
        holds = "is also" if config_folder == inbox else "holds"
        raise ConfigError(f"{where}: paths.inbox {inbox} {holds} the config file's folder ({config_folder}), and "
                          f"ingest takes every file in the inbox away; {advice}")
    for what, path in config.owned_paths():
        path = path.resolve()
        if path == inbox:
            raise ConfigError(f"{where}: paths.inbox {inbox} is also {what}, and ingest takes every file in the "
                              f"inbox away; {advice}")
        if path.is_relative_to(inbox):
            raise ConfigError(f"{where}: paths.inbox {inbox} holds {what} ({path}), and ingest takes every file in "
                              f"the inbox away; {advice}")
        if inbox.is_relative_to(path):
            raise ConfigError(f"{where}: paths.inbox {inbox} lies inside {what} ({path}), whose files pawpost "
                              f"reads; {advice}")


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first wrong key and what is expected."""
    err = exc.errors()[0]
    loc = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", ".".join(str(p) for p in err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (check the spelling; see config.example.toml for every key)"
    if kind == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    given = err.get("input")
    if given is not None and not isinstance(given, dict | list) and not _is_secret(loc):
        return f"{loc}: {msg} (got {given!r})"
    return f"{loc}: {msg}"


def _is_secret(loc: str) -> bool:
    """Whether the value at `loc` is a secret, which no message may echo."""
    return any(word in loc.lower() for word in ("password", "secret", "totp", "seed", "proxy", "token", "notify.urls"))


# Dot-names that phones, sync tools and file managers leave in a folder they fill with photos: not a sign that the
# folder is someone's home or working folder. Names with a second dot (`.IMG_1.jpg.Xa9f2`) are copies in flight.
INBOX_DOT_NAMES = frozenset({
    ".stfolder", ".stignore", ".stversions", ".sync", ".syncthing", ".dropbox", ".dropbox.cache", ".nomedia",
    ".ds_store", ".localized", ".thumbnails", ".trashes", ".fseventsd", ".spotlight-v100", ".temporaryitems",
    ".picasaoriginals", ".pending", ".thumbs",
})


def check_inbox_is_own(config: Config, file: Path) -> None:
    """Refuse a home folder, or a folder holding dot-files pawpost did not make, as the inbox (ingest takes every
    file in it away), unless the owner says `[paths] allow_any_inbox = true`."""
    if config.paths.allow_any_inbox:
        return
    inbox = config.paths.inbox.resolve()
    where = f"${ENV_PREFIX}PATHS__INBOX" if any(k.upper() == f"{ENV_PREFIX}PATHS__INBOX" for k in os.environ) \
        else str(file)
    advice = ("give the inbox a folder of its own, such as photos/inbox beside the config (or set [paths] "
              "allow_any_inbox = true if every file in it really is for pawpost)")
    home = Path(os.path.expanduser("~")).resolve()
    if inbox == home or inbox.parent == Path("/home") or inbox == Path("/root"):
        raise ConfigError(f"{where}: paths.inbox {inbox} is a home folder, and ingest takes every file in the inbox "
                          f"away; {advice}")
    try:
        names = [entry.name for entry in os.scandir(inbox)]
    except OSError:
        return  # not there yet (it is made, empty, at the first start) or not a folder: said where it is used
    foreign = sorted(n for n in names if n.startswith(".") and n.lower() not in INBOX_DOT_NAMES
                     and not n.lower().startswith((".trash-", "._")) and "." not in n[1:])
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ConfigError(f"{where}: paths.inbox {inbox} holds {shown}, which pawpost did not make: it looks like a "
                          f"folder in use, not an inbox, and ingest takes every file in the inbox away; {advice}")
