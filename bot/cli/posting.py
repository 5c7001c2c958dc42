"""`pawpost schedule`, `post ID`, `reconcile [ID]`, `login`: the posting side of the CLI (`drafts resend ID` and
`drafts posted ID` are in bot.cli.drafts, with the other drafts commands)."""

from __future__ import annotations

from typing import Any

import click

from bot.cli import DRAFT_ID, App, console, echo, emit_json, fail, pass_app
from bot.store.states import DraftStatus, PublishState


def poster_for(app: App):
    from bot.publish.factory import make_poster

    return make_poster(app.store, app.config)


@click.command()
@click.option("--count", default=6, show_default=True, type=click.IntRange(1, 100), help="How many slots to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def schedule(app: App, count: int, as_json: bool) -> None:
    """The next posting slots and the drafts that will fill them."""
    from bot import timeutil
    from bot.drafts.actions import get_draft
    from bot.publish.gate import posting_blocked

    now = timeutil.now()
    poster = poster_for(app)
    slots = poster.upcoming(now, count)
    blocked = posting_blocked(app.store, now)
    captions = {s.draft_id: get_draft(app.store, s.draft_id).caption for s in slots if s.draft_id is not None}
    if as_json:
        emit_json({
            "timezone": app.config.schedule.timezone,
            "publisher": app.config.instagram.publisher,
            "posting": blocked,
            "slots": [{**s.to_json(), "caption": captions.get(s.draft_id)} for s in slots],
        })
        return
    from rich.markup import escape
    from rich.table import Table

    zone = app.config.schedule.zone
    out = console()
    if blocked:
        out.print(f"[red]{escape(blocked)}[/]")
    if not slots:
        out.print("no posting slots: set schedule.slots (and schedule.max_posts_per_day above 0)")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("when", "draft", "caption"):
        table.add_column(col, overflow="ellipsis", no_wrap=col != "caption", max_width=60 if col == "caption" else None)
    for s in slots:
        caption = (captions.get(s.draft_id) or "").replace("\n", " ")
        table.add_row(timeutil.local(s.slot.fire_at, zone), str(s.draft_id) if s.draft_id else "-",
                      escape(caption or s.note))
    out.print(table)
    out.print(f"times are {app.config.schedule.timezone}; publisher: {app.config.instagram.publisher}")


@click.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def post(app: App, draft_id: int, as_json: bool) -> None:
    """Publish one approved draft now (never a draft that is not approved, or already posted)."""
    poster = poster_for(app)
    try:
        result = poster.post_now(draft_id)
    finally:
        poster.close()
    if as_json:
        emit_json(result)
    if handed_to_you(result):
        if not as_json:
            click.echo(f"draft {draft_id} {result.message}")
        return
    if result.status != DraftStatus.POSTED:
        fail(f"draft {draft_id} {result.message}")  # the message says what happened: "not posted: ..."
    if not as_json:
        click.echo(f"draft {draft_id} posted: {result.media_url or result.media_code}")


@click.command()
@click.argument("draft_id", type=DRAFT_ID, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def reconcile(app: App, draft_id: int | None, as_json: bool) -> None:
    """Settle unsettled drafts now: look for their posts on the account (never sends anything)."""
    poster = poster_for(app)
    try:
        looks = poster.reconcile(None, draft_id, force=True)
    finally:
        poster.close()
    if as_json:
        emit_json({"drafts": looks})
        return
    if not looks:
        click.echo("no unsettled drafts: nothing to reconcile")
    for look in looks:
        echo(f"draft {look.draft_id}: {look.decision}: {look.message}")


def handed_to_you(result: Any) -> bool:
    """Handed to you to post by hand: done, as far as pawpost goes."""
    return result.publish_state == PublishState.WITH_OWNER


@click.command()
@pass_app
def login(app: App) -> None:
    """Log in to Instagram as the publisher needs (password and two-factor code, or a token), save it."""
    from bot.publish.publishers.registry import kind_for

    def ask(prompt: str, *, secret: bool = False) -> str:
        return click.prompt(prompt.rstrip(": "), hide_input=secret, default="", show_default=False)

    click.echo(kind_for(app.config).login(app.config, app.store, ask))


def register(cli: click.Group) -> None:
    cli.add_command(schedule)
    cli.add_command(post)
    cli.add_command(reconcile)
    cli.add_command(login)
