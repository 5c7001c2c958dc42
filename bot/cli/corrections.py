"""`pawpost drafts regenerate|pets|unapprove|restore`: the owner's second thoughts on a draft. New caption
candidates, the right pets (the caption follows them, or new candidates are offered), and the undo of an approval
or a rejection."""

from __future__ import annotations

import sys

import click

from bot.cli import DRAFT_ID, App, console, echo, emit_json, pass_app


@click.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--hint", help="A hint about the photo the model cannot see (kept with the draft, like the .txt "
              "beside a photo).")
@click.option("--start", help="The first words every new candidate must begin with.")
@click.option("--json", "as_json", is_flag=True, help="Print the draft as one JSON document.")
@pass_app
def regenerate(app: App, draft_id: int, hint: str | None, start: str | None, as_json: bool) -> None:
    """Write new caption candidates for a pending draft, with a new seed."""
    regenerate_and_show(app, draft_id, hint, start, as_json=as_json)


def regenerate_and_show(app: App, draft_id: int, hint: str | None, start: str | None, *, as_json: bool) -> None:
    """New candidates for a pending draft, then the draft as `drafts regenerate` shows it."""
    from bot.cli.progress import progress
    from bot.drafts.regenerate import regenerate as regenerate_draft

    app.store.draft(draft_id)  # a wrong id is reported before any model loads
    with progress(f"draft {draft_id}: loading the caption model and writing {app.config.captions.candidates} "
                  "new candidates..."):
        # Vision ranks the candidates by image-text similarity when its embedder reads text.
        d = regenerate_draft(app.store, app.config, app.models.captioner(), draft_id, hint=hint, start=start,
                             vision=app.models.vision())
    if as_json:
        emit_json(d.to_json())
        return
    from rich.markup import escape

    out = console()
    if d.note:
        out.print(f"[yellow]note:[/] {escape(d.note)}")
    out.print(f"[bold]draft {d.id}[/] caption:\n{escape(d.caption or '-')}\n")
    for i, text in enumerate(d.candidates, 1):
        mark = "*" if text == d.caption else " "
        out.print(f"{mark}[{i}] {escape(text)}")
    from bot.cli.preview import next_step

    out.print(f"\n{next_step(d)}")


@click.command("pets")
@click.argument("draft_id", type=DRAFT_ID)
@click.argument("names", nargs=-1, required=True)
@click.option("--regenerate/--no-regenerate", "regen", default=None,
              help="Write new caption candidates for the new pets now (default: asked, in a terminal, when the "
                   "caption cannot simply be fixed).")
@pass_app
def pets(app: App, draft_id: int, names: tuple[str, ...], regen: bool | None) -> None:
    """Correct which pets are in a draft's photo (NAME... or 'none'); pawpost learns from it, and the caption's pet
    names and hashtags follow."""
    correct_and_say(app, draft_id, list(names), regen)


def correct_and_say(app: App, draft_id: int, names: list[str], regen: bool | None) -> None:
    """Set the pets (the caption follows them) and say what changed; new candidates when `regen`, or when the
    caption cannot simply be fixed and the owner says yes at the terminal (None: ask; False: never)."""
    from bot.drafts.actions import correct_pets
    from bot.drafts.lifecycle import Action, can

    done = correct_pets(app.store, app.config, app.models.vision(), draft_id, names)
    result, fix = done.correction, done.caption
    shown = ", ".join(p["name"] for p in result.pets) or "no pet"
    click.echo(f"draft {draft_id}: pets set to {shown}"
               + (f"; {result.references_added} new reference(s) learned" if result.references_added else ""))
    if result.not_learned:
        click.echo(f"saved, but nothing was learned from it: {result.not_learned}", err=True)
    if fix is not None and fix.changed:
        echo(f"caption fixed for the pets:\n{fix.text}")
    if not can(Action.REGENERATE, app.store.draft(draft_id)["status"]):
        return
    if fix is not None and fix.needs_regenerate and regen is None:
        echo(f"the caption may not fit now: {fix.needs_regenerate}")
        if sys.stdin.isatty():
            regen = click.confirm("write new caption candidates now?", default=True)
        else:
            click.echo(f"run 'pawpost drafts regenerate {draft_id}' (or give --regenerate) for new candidates")
    if regen:
        regenerate_and_show(app, draft_id, None, None, as_json=False)


@click.command()
@click.argument("draft_id", type=DRAFT_ID)
@pass_app
def unapprove(app: App, draft_id: int) -> None:
    """Undo an approval: the draft goes back to pending and will not be posted until approved again."""
    from bot.drafts.actions import unapprove as unapprove_draft

    unapprove_draft(app.store, draft_id)
    click.echo(f"draft {draft_id} is pending again; it will not go out until you approve it")


@click.command()
@click.argument("draft_id", type=DRAFT_ID)
@pass_app
def restore(app: App, draft_id: int) -> None:
    """Undo a rejection: the draft goes back to pending, to review again."""
    from bot.drafts.actions import restore as restore_draft

    restore_draft(app.store, draft_id)
    click.echo(f"draft {draft_id} is pending again (restored from rejected)")
