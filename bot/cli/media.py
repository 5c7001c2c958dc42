"""`pawpost drafts media ID list|add|remove|move|split`: the photos of a post and their order, over
bot.drafts.editing. Places are 1-based here (1 is the cover); PHOTO is a photo id as `list` shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli import DRAFT_ID, PHOTO_ID, App, console, echo, emit_json, pass_app

if TYPE_CHECKING:
    from bot.drafts.editing import MediaChange


@click.group("media")
@click.argument("draft_id", type=DRAFT_ID)
@click.pass_context
def media(ctx: click.Context, draft_id: int) -> None:
    """The photos of a post (1-10, in order): list, add, remove, move, or split one out into its own draft."""
    ctx.meta["draft_id"] = draft_id


def _draft_id() -> int:
    return int(click.get_current_context().meta["draft_id"])


@media.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """The post's photos in order, and the shoot's other shots that can be added."""
    from bot.drafts.actions import get_draft
    from bot.drafts.editing import media_views, offered

    draft_id = _draft_id()
    view = get_draft(app.store, draft_id)
    shown, extra = media_views(app.store, draft_id, view), offered(app.store, draft_id)
    if as_json:
        emit_json({"draft_id": draft_id, "status": view.status, "media": [m.to_json() for m in shown],
                   "offered": [o.__dict__ for o in extra]})
        return
    from rich.markup import escape

    from bot.cli.preview import show_media

    out = console()
    out.print(f"[bold]draft {draft_id}[/] - {view.status}, {len(shown)} photo(s)")
    show_media(app, shown, out, draw_photos=False)
    if extra:
        out.print(f"\nfrom the same shoot (add one with 'pawpost drafts media {draft_id} add PHOTO'):")
        for o in extra:
            pets = f" ({escape(', '.join(o.pets))})" if o.pets else ""
            why = f" - {escape(o.reason)}" if o.reason else ""
            out.print(f"  photo {o.photo_id}  {escape(o.source_name)}{pets}{why}")


@media.command()
@click.argument("photo_id", type=PHOTO_ID, metavar="PHOTO")
@click.option("--at", "place", type=click.IntRange(min=1), help="At this place (1 is the cover); default: last.")
@pass_app
def add(app: App, photo_id: int, place: int | None) -> None:
    """Add an analyzed photo that is in no draft (the shoot's other shots are listed by 'list')."""
    from bot.drafts.editing import add_photo

    tell(add_photo(app.store, _draft_id(), photo_id, None if place is None else place - 1),
         f"photo {photo_id} added")


@media.command()
@click.argument("photo_id", type=PHOTO_ID, metavar="PHOTO")
@pass_app
def remove(app: App, photo_id: int) -> None:
    """Take a photo out of the post; it stays in the library and can be added again."""
    from bot.drafts.editing import remove_photo

    tell(remove_photo(app.store, _draft_id(), photo_id), f"photo {photo_id} removed")


@media.command()
@click.argument("photo_id", type=PHOTO_ID, metavar="PHOTO")
@click.argument("place", type=click.IntRange(min=1), metavar="PLACE")
@pass_app
def move(app: App, photo_id: int, place: int) -> None:
    """Move a photo to PLACE (1 makes it the cover)."""
    from bot.drafts.editing import move_photo

    tell(move_photo(app.store, _draft_id(), photo_id, place - 1), f"photo {photo_id} moved to place {place}")


@media.command()
@click.argument("photo_id", type=PHOTO_ID, metavar="PHOTO")
@click.option("--no-caption", is_flag=True, help="Do not write the new draft's captions now (no model loads); "
              "'pawpost drafts regenerate NEW' writes them later.")
@pass_app
def split(app: App, photo_id: int, no_caption: bool) -> None:
    """Take a photo out into a draft of its own, and write its caption candidates."""
    from bot.drafts.editing import split_photo

    change = split_photo(app.store, _draft_id(), photo_id)
    new = change.new_draft
    tell(change, f"photo {photo_id} is now draft {new}")
    if no_caption or new is None:
        click.echo(f"draft {new} has no caption yet: 'pawpost drafts regenerate {new}' writes its candidates")
        return
    from bot.cli.progress import progress
    from bot.drafts.regenerate import regenerate

    with progress(f"draft {new}: loading the caption model and writing its candidates..."):
        d = regenerate(app.store, app.config, app.models.captioner(), new, vision=app.models.vision())
    from bot.cli.preview import next_step

    click.echo(f"draft {new}: {len(d.candidates)} candidate(s); {next_step(d)}")


def tell(change: MediaChange, what: str) -> None:
    """What a change did, then what the owner may want to do about it."""
    d = change.draft
    photos = ", ".join(str(m["photo_id"]) for m in d.media)
    click.echo(f"draft {d.id}: {what}; photos now {photos}")
    if change.unapproved:
        click.echo(f"draft {d.id} is pending again (its photos changed): approve it once more with 'pawpost drafts "
                   f"approve {d.id}'")
    if change.caption_may_not_fit:
        click.echo(f"the caption may no longer fit ({change.pets_changed}): write new candidates with 'pawpost "
                   f"drafts regenerate {d.id}'")


@click.command("cover")
@click.argument("draft_id", type=DRAFT_ID)
@click.argument("seconds", type=float)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def cover(app: App, draft_id: int, seconds: float, as_json: bool) -> None:
    """Choose a Reel's cover: the frame SECONDS into its video."""
    from bot.cli.preview import clip_facts
    from bot.drafts.cover import set_cover

    d = set_cover(app.store, draft_id, seconds)
    if as_json:
        emit_json(d.to_json())
        return
    echo(f"draft {d.id}: {clip_facts(d.duration_s, d.cover_at)} (see it: 'pawpost drafts show {d.id} --preview')")
