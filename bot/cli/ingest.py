"""`pawpost ingest`: take what is in the inbox now (the watcher's code path), print what became of it, exit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli import App, console, emit_json, pass_app

if TYPE_CHECKING:
    from bot.ingest.intake import IngestSummary


@click.command()
@click.option("--no-process", is_flag=True, help="Only take the files in; the daemon does the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def ingest(app: App, no_process: bool, as_json: bool) -> None:
    """Process the photos in the inbox now (through to drafts), then exit."""
    from bot.errors import PawpostError
    from bot.ingest.intake import ingest_inbox
    from bot.ingest.photo_queue import waiting_with_error
    from bot.runtime.model_errors import with_advice

    summary = ingest_inbox(app.store, app.config)
    # Nothing still copying in: the shoots it has are complete, and are drafted now.
    processed = None if no_process else _process(app, quiet=as_json, inbox_empty=not summary.waiting)
    if as_json:
        emit_json({**summary.to_json(), "processed": processed})
    else:
        _print(summary)
        if processed is not None:
            _print_processed(app, processed)
    if processed is not None:
        waiting = waiting_with_error(app.store)
        if waiting:
            raise PawpostError(with_advice(f"{len(waiting)} photo(s) wait: {waiting[0]['error']}; they are kept and "
                                           "tried again by the daemon or the next 'pawpost ingest'"))
    if summary.errors:
        raise PawpostError(f"{len(summary.errors)} file(s) could not be taken now and stay in the inbox; "
                           "fix the cause above and run 'pawpost ingest' again")


def _print(summary: IngestSummary) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
              f"quarantined {summary.quarantined}" + (f", hints {summary.hints}" if summary.hints else ""))
    for r in summary.of("duplicate"):
        if r.reason:  # a Live Photo's motion clip, kept with its still
            out.print(f"  duplicate: {escape(r.source_name)} is the {escape(r.reason)}")
            continue
        kind = "looks like" if r.near else "is the same file as"
        out.print(f"  duplicate: {escape(r.source_name)} {kind} photo {r.duplicate_of}")
    for r in summary.of("quarantined"):
        out.print(f"  [yellow]quarantined:[/] {escape(r.source_name)}: {escape(r.reason or '')} (kept in {r.path})")
    for r in summary.of("hint"):
        out.print(f"  hint: {escape(r.source_name)} joined photo {r.photo_id}")
    for r in summary.of("skipped"):
        out.print(f"  [dim]left in the inbox: {escape(r.source_name)}: {escape(r.reason or '')}[/]")
    for name in summary.waiting:
        out.print(f"  [dim]still being written, taken next time: {escape(name)}[/]")
    for error in summary.errors:
        out.print(f"  [red]error:[/] {escape(error)}")


def _process(app: App, quiet: bool, inbox_empty: bool) -> dict:
    """Carry the new photos through recognition and captions: the daemon's pipeline, run once."""
    from bot.pipeline import process_now

    if quiet:
        return process_now(app.store, app.config, inbox_empty=inbox_empty)
    with console().status("recognising pets and writing captions (the first run loads the models)..."):
        return process_now(app.store, app.config, inbox_empty=inbox_empty)


def _print_processed(app: App, result: dict) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"analyzed {result['analyzed']}, drafted {result['drafted']}"
              + (f", deferred {result['deferred']}" if result["deferred"] else ""))
    if result.get("gpu_busy"):
        out.print("[yellow]the GPU is busy with a retrain; the photos wait and the daemon picks them up later[/]")
    from bot.ingest.photo_queue import waiting_with_error

    for row in waiting_with_error(app.store, limit=10):
        out.print(f"  [yellow]waiting:[/] photo {row['id']} ({escape(row['source_name'])}): {escape(row['error'])}")
    if result["drafted"]:
        out.print("review them with 'pawpost drafts list'")


def register(cli: click.Group) -> None:
    cli.add_command(ingest)
