"""`pawpost ingest`: take what is in the inbox now (the watcher's code path), print what became of it, exit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli import App, console, emit_json, pass_app

if TYPE_CHECKING:
    from bot.ingest import IngestSummary


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def ingest(app: App, as_json: bool) -> None:
    """Process the photos in the inbox now, then exit."""
    from bot.errors import PawpostError
    from bot.ingest import ingest_inbox

    summary = ingest_inbox(app.store, app.config)
    if as_json:
        emit_json(summary.to_json())
    else:
        _print(summary)
    if summary.errors:
        raise PawpostError(f"{len(summary.errors)} file(s) could not be taken now and stay in the inbox; "
                           "fix the cause above and run 'pawpost ingest' again")


def _print(summary: IngestSummary) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
              f"quarantined {summary.quarantined}" + (f", notes {summary.hints}" if summary.hints else ""))
    for r in summary.of("duplicate"):
        kind = "looks like" if r.near else "is the same file as"
        out.print(f"  duplicate: {escape(r.source_name)} {kind} photo {r.duplicate_of}")
    for r in summary.of("quarantined"):
        out.print(f"  [yellow]quarantined:[/] {escape(r.source_name)}: {escape(r.reason or '')} (kept in {r.path})")
    for r in summary.of("hint"):
        out.print(f"  note: {escape(r.source_name)} joined photo {r.photo_id}")
    for r in summary.of("skipped"):
        out.print(f"  [dim]left in the inbox: {escape(r.source_name)}: {escape(r.reason or '')}[/]")
    for name in summary.waiting:
        out.print(f"  [dim]still being written, taken next time: {escape(name)}[/]")
    for error in summary.errors:
        out.print(f"  [red]error:[/] {escape(error)}")


def register(cli: click.Group) -> None:
    cli.add_command(ingest)
