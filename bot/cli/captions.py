"""`pawpost drafts regenerate`: fresh caption candidates for a pending draft (a command of the drafts group)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli import App, console, emit_json, pass_app

if TYPE_CHECKING:
    from bot.drafts import DraftView


@click.command()
@click.argument("draft_id", type=int)
@click.option("--hint", help="Something about the photo the model cannot see (kept with the draft).")
@click.option("--start", help="The first words every new candidate must begin with.")
@click.option("--json", "as_json", is_flag=True, help="Print the draft as one JSON document.")
@pass_app
def regenerate(app: App, draft_id: int, hint: str | None, start: str | None, as_json: bool) -> None:
    """Write new caption candidates for a pending draft, with a new seed."""
    from bot.captions.stage import regenerate as regenerate_draft
    from bot.cli.progress import progress
    from bot.ml import Runtime
    from bot.pipeline import make_captioner

    config, store = app.config, app.store
    store.draft(draft_id)  # a wrong id is reported before any model loads
    runtime = Runtime.from_config(config)
    with progress(f"draft {draft_id}: loading the caption model and writing {config.captions.candidates} "
                  "new candidates..."):
        d = regenerate_draft(store, config, make_captioner(config, runtime), draft_id, hint=hint, start=start,
                             vision=_vision(config, runtime))
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
    out.print(f"\n{next_step(d)}")


def next_step(d: DraftView) -> str:
    """What the owner can do now: approve only when there is a caption to approve."""
    if d.candidates:
        return f"approve with 'pawpost drafts approve {d.id}' (or --candidate N)"
    if d.caption:
        return (f"no new candidate passed the rules; approve the previous caption with 'pawpost drafts approve "
                f"{d.id}', or write your own with --caption TEXT")
    return (f"nothing to approve yet: write the caption with 'pawpost drafts approve {d.id} --caption TEXT', or try "
            f"again with 'pawpost drafts regenerate {d.id} --hint TEXT'")


def _vision(config, runtime):  # type: ignore[no-untyped-def]
    # Vision ranks candidates by image-text similarity when its embedder reads text; captions work without it.
    try:
        from bot.vision import Vision
    except ImportError:
        return None
    return Vision(config, runtime)


def register(cli: click.Group) -> None:
    cli.commands["drafts"].add_command(regenerate)
