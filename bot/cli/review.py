"""The loop behind `pawpost drafts review`: walk the pending drafts one by one, see each photo as it will be posted,
then pick, approve, edit, reject or skip, over the same services as the single drafts commands."""

from __future__ import annotations

import click

from bot.cli import App, console
from bot.store.states import DraftStatus

PROMPT = "[a]pprove, 1-{n} pick and approve, [e]dit, [r]eject, [s]kip, [q]uit"


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
    from bot.drafts.actions import approve, reject
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
        answer = click.prompt(PROMPT.format(n=n) if n else PROMPT.replace(", 1-{n} pick and approve", ""),
                              default="s", show_default=True).strip().lower()
        try:
            if answer in ("a", "approve"):
                approve(app.store, app.config, draft_id)
                click.echo(f"draft {draft_id} approved; it goes out at the next free slot")
                return DraftStatus.APPROVED
            if answer.isdigit():
                approve(app.store, app.config, draft_id, candidate=int(answer))
                click.echo(f"draft {draft_id} approved with candidate {answer}")
                return DraftStatus.APPROVED
            if answer in ("e", "edit"):
                from bot.cli.preview import edit_caption

                click.echo(edit_caption(app, draft_id))
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
            click.echo(f"'{answer}'? " + PROMPT.format(n=n))
        except PawpostError as exc:
            from bot.cli.wording import said

            click.echo(f"pawpost: {said(exc)}", err=True)


def _show(app: App, c: object, position: str, preview: bool) -> None:
    from rich.markup import escape

    from bot.timeutil import local

    d, photo = c.draft, c.photo  # type: ignore[attr-defined]
    out = console()
    from bot.drafts.review import pets_shown

    pets = pets_shown(photo.pets)
    taken = f", taken {local(photo.taken_at, app.config.schedule.zone)}" if photo.taken_at else ""
    out.print(f"\n[bold]{position}  draft {d.id}[/]  {escape(photo.source_name)}{taken}  ({escape(pets)})")
    from bot.cli.preview import show_media
    from bot.drafts.editing import media_views

    media = media_views(app.store, d.id, d)
    if len(media) > 1:
        out.print(f"{len(media)} photos, in order ('pawpost drafts media {d.id} list' to change them):")
    show_media(app, media, out, draw_photos=preview)
    if d.note:
        out.print(f"[yellow]note:[/] {escape(d.note)}")
    out.print(f"[bold]caption{' (edited)' if d.edited else ''}:[/] {escape(d.caption or '-')}")
    for i, text in enumerate(d.candidates, 1):
        out.print(f"{'*' if text == d.caption else ' '}[{i}] {escape(text)}")
