"""The loop behind `pawpost drafts review`: walk the pending drafts one by one, see each photo as it will be posted
(fitted to the terminal; not drawn on a pipe or with NO_COLOR), then pick, approve (now or at a time), edit,
regenerate, correct the pets, reject or skip, over the same services as the single drafts commands."""

from __future__ import annotations

import os
from typing import Any

import click

from bot.cli import App, console, echo
from bot.store.states import DraftStatus

PROMPT = ("[a]pprove, 1-{n} pick and approve, [t]ime, [e]dit, [g] regenerate, [p]ets, [r]eject, [s]kip, "
          "[q]uit")
# Rows of the terminal the text around a drawn photo takes (header, file, alt text, caption, prompt), besides
# one per candidate: the photo is drawn short enough to leave them on screen.
TEXT_ROWS = 8


def review_pending(app: App, *, preview: bool) -> None:
    """Each pending draft, oldest first, until the owner has decided on every one or quits; then the tally."""
    from bot.drafts.review import cards

    items = cards(app.store, app.config, DraftStatus.PENDING)
    if not items:
        click.echo("nothing to review: no pending drafts")
        return
    done = {DraftStatus.APPROVED: 0, DraftStatus.REJECTED: 0, "skipped": 0}
    for n, item in enumerate(items, 1):
        outcome = _one(app, item.id, f"{n}/{len(items)}", preview=preview)
        if outcome == "quit":
            done["skipped"] += len(items) - n + 1
            break
        done[outcome] += 1
    click.echo(", ".join(f"{v} {k}" for k, v in done.items()))


def _one(app: App, draft_id: int, position: str, *, preview: bool) -> str:
    """One draft until the owner decides: returns approved, rejected, skipped or quit."""
    from bot.drafts.actions import reject
    from bot.drafts.review import card
    from bot.errors import PawpostError

    show = True
    while True:
        c = card(app.store, app.config, draft_id)
        if c.draft.status != DraftStatus.PENDING:  # changed meanwhile (the page, another terminal)
            click.echo(f"draft {draft_id} is {c.draft.status} now; next")
            return "skipped"
        if show:
            _show(app, c, position, preview)
            show = False
        n = len(c.draft.candidates)
        prompt = PROMPT.format(n=n) if n else PROMPT.replace(", 1-{n} pick and approve", "")
        answer = click.prompt(prompt, default="s", show_default=True).strip().lower()
        try:
            if answer in ("a", "approve"):
                return _approve(app, draft_id)
            if answer.isdigit():
                return _approve(app, draft_id, candidate=int(answer))
            if answer in ("t", "time"):
                text = click.prompt('post at (local time, "YYYY-MM-DD HH:MM", 24-hour)').strip()
                from bot.drafts.timing import parse_at

                return _approve(app, draft_id, at=parse_at(text, app.config))
            if answer in ("e", "edit"):
                from bot.cli.preview import edit_caption

                click.echo(edit_caption(app, draft_id))
                show = True
                continue
            if answer in ("g", "regenerate"):
                from bot.cli.corrections import regenerate_and_show

                hint = click.prompt("a hint the model cannot see (optional)", default="", show_default=False)
                regenerate_and_show(app, draft_id, hint.strip() or None, None, as_json=False)
                continue
            if answer in ("p", "pets"):
                from bot.cli.corrections import correct_and_say

                names = click.prompt("who is in the photo (names, or none)").replace(",", " ").split()
                correct_and_say(app, draft_id, names, None)
                show = True
                continue
            if answer in ("r", "reject"):
                reason = click.prompt("why (optional)", default="", show_default=False).strip() or None
                reject(app.store, draft_id, reason)
                click.echo(f"draft {draft_id} rejected")
                return DraftStatus.REJECTED
            if answer in ("s", "skip", ""):
                return "skipped"
            if answer in ("q", "quit"):
                return "quit"
            click.echo(f"'{answer}'? " + prompt)
        except PawpostError as exc:
            from bot.cli.wording import said

            click.echo(f"pawpost: {said(exc)}", err=True)


def _approve(app: App, draft_id: int, **how: Any) -> str:
    """Approve, and say when it goes out (local time and zone), as `drafts approve` does."""
    from bot.drafts.actions import approve
    from bot.publish.slots import goes_out, planned

    approve(app.store, app.config, draft_id, **how)
    plan = planned(app.store, app.config, draft_id)
    which = f" with candidate {how['candidate']}" if how.get("candidate") else ""
    click.echo(f"draft {draft_id} approved{which}; it goes out {goes_out(plan, app.config)}" if plan
               else f"draft {draft_id} approved{which}")
    return DraftStatus.APPROVED


def drawable(out: Any) -> bool:
    """Whether photos can be drawn on `out`: a terminal, and colour not turned off (NO_COLOR): the drawing is
    nothing but colour codes."""
    return bool(out.is_terminal) and not os.environ.get("NO_COLOR")


def _show(app: App, c: Any, position: str, preview: bool) -> None:
    from rich.markup import escape

    from bot.drafts.review import pets_shown
    from bot.timeutil import local

    d, photo = c.draft, c.photo
    out = console()
    pets = pets_shown(photo.pets)
    taken = f", taken {local(photo.taken_at, app.config.schedule.zone)}" if photo.taken_at else ""
    out.print(f"\n[bold]{position}  draft {d.id}[/]  {escape(photo.source_name)}{taken}  ({escape(pets)})")
    from bot.cli.preview import show_media
    from bot.drafts.editing import media_views

    media = media_views(app.store, d.id, d)
    if len(media) > 1:
        out.print(f"{len(media)} photos, in order ('pawpost drafts media {d.id} list' to change them):")
    draw = preview and drawable(out)
    show_media(app, media, out, draw_photos=draw, reserve=TEXT_ROWS + len(d.candidates))
    if preview and not draw:
        echo(f"  (photos not drawn here: not a terminal, or NO_COLOR is set; 'pawpost drafts show {d.id} --open' "
             "or the review site shows them)")
    if d.note:
        out.print(f"[yellow]note:[/] {escape(d.note)}")
    out.print(f"[bold]caption{' (edited)' if d.edited else ''}:[/] {escape(d.caption or '-')}")
    for i, text in enumerate(d.candidates, 1):
        out.print(f"{'*' if text == d.caption else ' '}[{i}] {escape(text)}")
