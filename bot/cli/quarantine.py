"""`pawpost quarantine list|retry ID|dismiss ID`: the files ingest set aside, and the owner's answer to each."""

from __future__ import annotations

import click

from bot.cli import PHOTO_ID, App, echo, emit_json, pass_app


@click.group()
def quarantine() -> None:
    """The files ingest set aside (unreadable or unsafe): list them, take one in again, or delete it."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """Quarantined files still kept in data/quarantine/, newest first, with why each was set aside."""
    from bot.ingest.quarantine import kept
    from bot.timeutil import local

    items = kept(app.store)
    if as_json:
        emit_json([k.to_json() for k in items])
        return
    if not items:
        click.echo("nothing in quarantine")
        return
    zone = app.config.schedule.zone
    for k in items:
        echo(f"{k.id}  {local(k.created_at, zone)}  {k.source_name}: {k.reason or 'it could not be read'}")
        echo(f"      kept in {k.path}")
    click.echo("take one in again: 'pawpost quarantine retry ID'; delete it: 'pawpost quarantine dismiss ID'")


@quarantine.command()
@click.argument("photo_id", type=PHOTO_ID)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def retry(app: App, photo_id: int, as_json: bool) -> None:
    """Run intake again on a quarantined file (after raising a limit or installing a decoder)."""
    from bot.ingest.quarantine import retry as retry_photo

    result = retry_photo(app.store, app.config, photo_id)
    if as_json:
        emit_json(result.to_json())
        return
    if result.status == "quarantined":
        echo(f"photo {photo_id} is still set aside (now photo {result.photo_id}): {result.reason}")
    elif result.status == "duplicate":
        echo(f"photo {photo_id} is in the library now, as photo {result.photo_id}: a duplicate of photo "
             f"{result.duplicate_of}")
    else:
        echo(f"photo {photo_id} is in the library now, as photo {result.photo_id}; the next ingest or the daemon "
             "drafts it")


@quarantine.command()
@click.argument("photo_id", type=PHOTO_ID)
@pass_app
def dismiss(app: App, photo_id: int) -> None:
    """Delete a quarantined file and forget it."""
    from bot.ingest.quarantine import dismiss as dismiss_photo

    item = dismiss_photo(app.store, photo_id)
    echo(f"photo {photo_id} ({item.source_name}) dismissed" + (f"; {item.path} deleted" if item.on_disk else ""))


def register(cli: click.Group) -> None:
    cli.add_command(quarantine)
