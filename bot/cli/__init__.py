"""The `pawpost` command line: parses arguments, calls a service, formats the result.

Exit status: 0 success, 1 an error the owner can fix (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from bot.errors import NoSuchDraft, NotFound, PawpostError

# Each module adds its commands to `main` with `register(main)`; one line per module.
COMMAND_MODULES = [
    "bot.cli.setup",
    "bot.cli.drafts",
    "bot.cli.pets",
    "bot.cli.run",
    "bot.cli.ingest",
    "bot.cli.quarantine",
    "bot.cli.posting",
    "bot.cli.models",
    "bot.cli.web",
]


class App:
    """What a command needs, built on first use: config found by the contract's order, then the store, then the
    model-using services (bot.runtime.services)."""

    def __init__(self, config_path: str | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose

    @cached_property
    def config(self) -> Any:
        from bot.publish.publishers.registry import load_checked_config

        return load_checked_config(self.config_path)

    @cached_property
    def store(self) -> Any:
        from bot.store.database import Store

        return Store.for_config(self.config)

    @cached_property
    def models(self) -> Any:
        from bot.runtime.services import ModelServices

        return ModelServices(self.config)


pass_app = click.make_pass_decorator(App)


class RowId(click.ParamType):
    """A draft's or photo's id as typed, the one place every command reads one: a whole number (else a usage error);
    one beyond what the database can hold names nothing, said as for any other missing one (`missing`)."""

    name = "ID"

    def __init__(self, what: str, missing: Callable[[str], PawpostError]) -> None:
        self.what, self.missing = what, missing

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not text.isascii() or not text.isdigit():
            self.fail(f"{value!r} is not a {self.what} id (a whole number, as 'pawpost drafts list' shows)", param,
                      ctx)
        from bot.store.database import MAX_ROWID

        if int(text) > MAX_ROWID:
            raise self.missing(text)
        return int(text)


DRAFT_ID = RowId("draft", NoSuchDraft)
PHOTO_ID = RowId("photo", lambda text: NotFound(f"there is no photo {text}"))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $PAWPOST_CONFIG, ./pawpost.toml, "
              "$XDG_CONFIG_HOME/pawpost/config.toml, by default ~/.config/pawpost/config.toml).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="pawpost")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """pawpost runs your pet's Instagram: recognises your pets, writes captions in your voice, posts on schedule."""
    setup_logging(verbose)
    ctx.obj = App(config_path, verbose)


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    from bot.logs import capture_warnings

    capture_warnings()  # library deprecation notices only with -vv, as log lines


_emitted = False  # a JSON document is out: an error after it must not add a second one


def emit_json(obj: Any) -> None:
    """Exactly one JSON document on stdout: indented for a person, compact (and C-encoded, fast) for a pipe."""
    global _emitted
    from bot.controls import json_shown

    indent = 2 if sys.stdout.isatty() else None
    click.echo(json_shown(json.dumps(obj, ensure_ascii=False, indent=indent, default=_json_default)))
    _emitted = True


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def console() -> Any:
    """The console every command prints through: stored text (captions, hints, alt text, file names, reasons)
    has its control characters shown as escapes (bot.controls.shown), never sent to the terminal raw."""
    from rich.console import Console

    from bot.controls import shown

    class SafeConsole(Console):
        # Every string rich turns into text passes here: print's arguments, table cells, status lines.
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(shown(text), **kwargs)

    # soft_wrap: never break a path or caption across lines when output is piped.
    return SafeConsole(highlight=False, soft_wrap=True)


def echo(text: str, **kwargs: Any) -> None:
    """click.echo for a line that holds stored text: its control characters are shown as escapes."""
    from bot.controls import shown

    click.echo(shown(text), **kwargs)


def fail(message: str) -> None:
    raise PawpostError(message)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: owner errors are one line on stderr and exit 1; usage errors exit 2.

    With --json an error is also one document on stdout, `{"error": ...}`, unless the command printed its own.
    """
    import sqlite3

    global _emitted
    _emitted = False
    args = sys.argv[1:] if argv is None else argv
    try:
        rc = cli.main(args=args, prog_name="pawpost", standalone_mode=False)
    except PawpostError as exc:
        from bot.cli.wording import said

        _fail(said(exc), 1, args)
    except BrokenPipeError:  # `pawpost drafts list | head`
        sys.exit(0)
    except OSError as exc:
        # A filesystem problem the owner can fix (a path, a permission, a full disk): one line, not a traceback.
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        _fail(f"{exc.strerror or exc}{where}", 1, args)
    except sqlite3.Error as exc:
        # A damaged database, a read-only mount, a full disk met in the middle of a command.
        from bot.store.database import describe_error

        _fail(describe_error(exc), 1, args)
    except click.exceptions.Abort:
        click.echo("pawpost: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        _json_error(exc.format_message(), args)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


def _fail(message: str, rc: int, args: list[str]) -> None:
    from bot.controls import shown

    click.echo(f"pawpost: error: {shown(message)}", err=True)
    _json_error(message, args)
    sys.exit(rc)


def _json_error(message: str, args: list[str]) -> None:
    """`{"error": ...}` on stdout for a command run with --json, so a script always reads one document."""
    options = args[: args.index("--")] if "--" in args else args
    if "--json" in options and not _emitted:
        try:
            emit_json({"error": message})
        except OSError:
            pass
