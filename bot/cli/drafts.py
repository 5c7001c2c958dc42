"""`pawpost drafts ...`: list, show, approve, edit and reject drafts."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from bot.cli import App, console, emit_json, pass_app
from bot.errors import PawpostError

if TYPE_CHECKING:
    from bot.config import Config
    from bot.drafts import Planned

STATES = ["pending", "approved", "publishing", "posted", "rejected", "failed"]


@click.group()
def drafts() -> None:
    """Review the drafts pawpost wrote: approve, edit, reject."""


@drafts.command("list")
@click.option("--status", "status", type=click.Choice(STATES), help="Only drafts in this state.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, status: str | None, limit: int | None, as_json: bool) -> None:
    """Drafts, newest first."""
    from bot.drafts import list_drafts, list_json

    if as_json:
        click.echo(list_json(app.store, status, limit))
        return
    items = list_drafts(app.store, status, limit)
    if not items:
        click.echo("no drafts" + (f" that are {status}" if status else ""))
        return
    from rich.table import Table

    from bot.timeutil import local

    zone = app.config.schedule.zone
    table = Table(box=None, pad_edge=False)
    for col in ("id", "status", "pets", "caption", "created", "when"):
        # One line per draft: the caption is cut with an ellipsis; 'drafts show' has it whole.
        table.add_column(col, overflow="ellipsis", no_wrap=True, max_width=60 if col == "caption" else None)
    for d in items:
        when = d.posted_at or d.scheduled_for
        caption = (d.caption or "").replace("\n", " ") or f"(no caption: see 'pawpost drafts show {d.id}')"
        table.add_row(str(d.id), d.status, ", ".join(d.pets) or "-", caption,
                      local(d.created_at, zone), local(when, zone) if when else "")
    console().print(table)


@drafts.command("show")
@click.argument("draft_id", type=int)
@click.option("--open", "open_photo", is_flag=True, help="Open the photo in the system viewer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def show(app: App, draft_id: int, open_photo: bool, as_json: bool) -> None:
    """One draft: photo, pets, caption and every candidate."""
    from bot.drafts import get_draft, planned

    d = get_draft(app.store, draft_id)
    if open_photo and d.photo:
        click.launch(d.photo)
    # When it really goes out (slot, jitter, daily cap, the drafts ahead): what `pawpost schedule` shows.
    plan = planned(app.store, app.config, draft_id)
    if as_json:
        from bot.timeutil import iso

        emit_json({**d.to_json(), "goes_out_at": iso(plan.at) if plan else None})
        return
    from rich.markup import escape

    from bot.timeutil import local

    zone = app.config.schedule.zone
    out = console()
    out.print(f"[bold]draft {d.id}[/] - {d.status}")
    out.print(f"photo:   {d.photo}")
    conf = f" (confidence {d.confidence:.2f})" if d.confidence is not None else ""
    out.print(f"pets:    {', '.join(d.pets) or 'none recognised'}{conf}")
    if d.hint:
        out.print(f"hint:    {escape(d.hint)}")
    out.print(f"created: {local(d.created_at, zone)}")
    if d.scheduled_for:
        out.print(f"at:      {local(d.scheduled_for, zone)}")
    if plan is not None:
        out.print(f"goes out: {_when(plan, app.config)}")
    if d.posted_at:
        out.print(f"posted:  {local(d.posted_at, zone)} {d.media_url or d.media_code or ''}")
    if d.error:
        out.print(f"[red]error:[/]   {escape(d.error)}")
    if d.note:
        out.print(f"[yellow]note:[/]    {escape(d.note)}")
    out.print(f"\n[bold]caption{' (edited)' if d.edited else ''}:[/]\n{escape(d.caption or '-')}\n")
    for i, text in enumerate(d.candidates, 1):
        mark = "*" if text == d.caption else " "
        out.print(f"{mark}[{i}] {escape(text)}")
    for c in d.rejected_candidates:
        out.print(f"[dim]  refused ({escape(c['reason'] or '')}): {escape(c['text'][:120])}[/]")


@drafts.command()
@click.argument("draft_id", type=int)
@click.option("--candidate", type=int, help="Use candidate N (as numbered by 'drafts show').")
@click.option("--caption", help="Use this text as the caption.")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"', help="Post at this local time instead of the next slot.")
@pass_app
def approve(app: App, draft_id: int, candidate: int | None, caption: str | None, at: str | None) -> None:
    """Approve a draft for posting."""
    from bot.drafts import approve as approve_draft
    from bot.drafts import parse_at, planned
    from bot.limits import normalise

    if candidate is not None and caption is not None:
        raise click.UsageError("give either --candidate or --caption, not both")
    when = parse_at(at, app.config) if at else None
    d = approve_draft(app.store, app.config, draft_id, candidate=candidate, caption=caption, at=when)
    plan = planned(app.store, app.config, d.id)
    click.echo(f"draft {d.id} approved; it goes out {_when(plan, app.config)}" if plan else f"draft {d.id} approved")
    if caption is not None and d.caption != normalise(caption):
        click.echo(f"caption with the configured hashtags added: {d.caption}")


def _when(plan: Planned, config: Config) -> str:
    """'at 2026-11-27 19:04 (Europe/Madrid)', with why it is not the --at time asked for, if it is not."""
    from bot.drafts import PLAN_SLOTS
    from bot.timeutil import local

    zone = config.schedule.zone
    if plan.at is None:
        where = (f"after the next {PLAN_SLOTS} slots; see 'pawpost schedule'" if config.schedule.slots else
                 "only with 'pawpost post ID' (schedule.slots is empty)")
    else:
        where = f"at {local(plan.at, zone)} ({config.schedule.timezone})"
    if plan.moved:
        where += f", not at the time asked for: {plan.moved}"
    return where


@drafts.command()
@click.argument("draft_id", type=int)
@pass_app
def edit(app: App, draft_id: int) -> None:
    """Edit the caption in $EDITOR; the edit is kept for retraining."""
    from bot.drafts import edit as edit_draft
    from bot.drafts import editable

    d = editable(app.store, draft_id)  # refuse before opening an editor, not after
    if not sys.stdin.isatty() and not os.environ.get("EDITOR") and not os.environ.get("VISUAL"):
        raise PawpostError("no $EDITOR is set; set it, or use 'pawpost drafts approve ID --caption TEXT'")
    text = _edit_until_valid(d.caption or "", app.config)
    if text is None:
        return
    edit_draft(app.store, app.config, draft_id, text)
    click.echo(f"draft {draft_id} caption saved")


# Lines pawpost puts on top of a caption it reopens; removed from what is saved (a hashtag has no space after #).
EDITOR_MARK = "# pawpost:"


def _edit_until_valid(caption: str, config: Config) -> str | None:
    """The caption as edited in $EDITOR; one Instagram would refuse is reopened with the reason on top, so the
    owner's edit is never thrown away. None: nothing to save (not saved, emptied, or left as it was refused)."""
    from bot.drafts import owner_caption_problem

    shown, problem = caption, None
    while True:
        edited = click.edit(shown, extension=".txt", require_save=True)
        if edited is None:
            if problem is not None:  # closed without saving the reopened caption: the refusal stands
                raise PawpostError(f"{problem}; nothing was changed")
            click.echo("caption unchanged")
            return None
        text = "\n".join(line for line in edited.split("\n") if not line.startswith(EDITOR_MARK))
        if not text.strip():
            click.echo("empty caption; nothing was changed")
            return None
        if problem is not None and edited.rstrip("\n") == shown.rstrip("\n"):
            raise PawpostError(f"{problem}; nothing was changed")  # saved as it was: do not ask forever
        problem = owner_caption_problem(text, config)
        if problem is None:
            return text
        shown = (f"{EDITOR_MARK} {problem}.\n{EDITOR_MARK} Fix the caption below and save; lines starting with "
                 f"'{EDITOR_MARK}' are removed.\n{text}")


@drafts.command()
@click.argument("draft_id", type=int)
@click.option("--reason", help="Why (kept for the record).")
@pass_app
def reject(app: App, draft_id: int, reason: str | None) -> None:
    """Reject a draft; it will never be posted."""
    from bot.drafts import reject as reject_draft

    reject_draft(app.store, draft_id, reason)
    click.echo(f"draft {draft_id} rejected")


def register(cli: click.Group) -> None:
    cli.add_command(drafts)
