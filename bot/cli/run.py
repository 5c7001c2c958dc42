"""`pawpost run`: the daemon in the foreground (as systemd runs it); logs go to stderr, one line per event."""

from __future__ import annotations

import logging
import os
import sys
import threading

import click

from bot.cli import App, pass_app


@click.command()
@pass_app
def run(app: App) -> None:
    """Run the bot: watch the inbox, recognise pets, write drafts, post at the slots. Ctrl-C stops it."""
    from bot.daemon.supervisor import Daemon
    from bot.logs import setup

    setup(app.verbose)
    daemon = Daemon(app.config)
    rc = daemon.run()
    if not daemon.clean or _lingering():
        # A batch, an upload or a notification did not finish in the grace time: its thread cannot be interrupted
        # (a library's worker thread, such as Apprise's, would even be waited for at interpreter exit), and the
        # database and files are consistent at every step, so leave now: the stop is as quick as promised.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    if rc:
        sys.exit(rc)


def _lingering() -> bool:
    """Whether a thread the interpreter would wait for at exit is still running (the daemon's own are done)."""
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


def register(cli: click.Group) -> None:
    cli.add_command(run)
