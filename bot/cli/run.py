"""`pawpost run`: the daemon in the foreground (as systemd runs it); logs go to stderr, one line per event."""

from __future__ import annotations

import logging
import os
import sys

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
    if not daemon.clean:
        # A batch or an upload did not finish in the grace time: its thread cannot be interrupted, and the
        # database and files are consistent at every step, so leave now rather than wait at interpreter exit.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    if rc:
        sys.exit(rc)


def register(cli: click.Group) -> None:
    cli.add_command(run)
