"""The `pawpost` command line: parses arguments, calls a service, formats the result.

Exit status: 0 success, 1 an error the owner can fix (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from bot.errors import PawpostError

# Each module adds its commands to `main` with `register(main)`; one line per module.
COMMAND_MODULES = [
    "bot.cli.setup",
    "bot.cli.drafts",
    "bot.cli.captions",
    "bot.cli.pets",
    "bot.cli.run",
    "bot.cli.ingest",
    "bot.cli.posting",
    "bot.cli.models",
]


class App:
    """What a command needs, built on first use: config found by the contract's order, then the store."""

    def __init__(self, config_path: str | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose

    @cached_property
    def config(self) -> Any:
        from bot.config import load_config

        return load_config(self.config_path)

    @cached_property
    def store(self) -> Any:
        from bot.store import Store

        return Store.for_config(self.config)


pass_app = click.make_pass_decorator(App)


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


def emit_json(obj: Any) -> None:
    """Exactly one JSON document on stdout: indented for a person, compact (and C-encoded, fast) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(obj, ensure_ascii=False, indent=indent, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def console() -> Any:
    from rich.console import Console

    # soft_wrap: never break a path or caption across lines when output is piped.
    return Console(highlight=False, soft_wrap=True)


def fail(message: str) -> None:
    raise PawpostError(message)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: owner errors are one line on stderr and exit 1; usage errors exit 2."""
    try:
        rc = cli.main(args=argv, prog_name="pawpost", standalone_mode=False)
    except PawpostError as exc:
        click.echo(f"pawpost: error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:  # `pawpost drafts list | head`
        sys.exit(0)
    except OSError as exc:
        # A filesystem problem the owner can fix (a path, a permission, a full disk): one line, not a traceback.
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        click.echo(f"pawpost: error: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("pawpost: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)
