"""`pawpost drafts ...`: every command on drafts. list, show, review; approve, edit, reject; regenerate (new
caption candidates) and pets (which pets are in the photo); resend and posted (the owner's word on a post)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bot.cli import DRAFT_ID, App, console, echo, emit_json, fail, pass_app
from bot.errors import PawpostError
from bot.store.states import DraftStatus, PublishState

STATES = [str(s) for s in DraftStatus]
# Where a publishing draft stands, for `drafts show`.
PUBLISH_STATES = {
    PublishState.STARTED: "started; the post was not sent yet",
    PublishState.SENT: "sent; waiting for Instagram's answer",
    PublishState.UNKNOWN: "unsettled: Instagram did not say whether it was posted (see 'pawpost status')",
    PublishState.WITH_OWNER: "with you to post by hand ('pawpost drafts posted ID --url LINK' once it is up)",
}


@click.group()
def drafts() -> None:
    """Review the drafts pawpost wrote: approve, edit, reject, regenerate, correct the pets."""


@drafts.command("list")
@click.option("--status", "status", type=click.Choice(STATES), help="Only drafts in this state.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, status: str | None, limit: int | None, as_json: bool) -> None:
    """Drafts, newest first."""
    from bot.drafts.actions import list_drafts, list_json

    if as_json:
        from bot.controls import json_shown

        click.echo(json_shown(list_json(app.store, status, limit)))
        return
    items = list_drafts(app.store, status, limit)
    if not items:
        click.echo("no drafts" + (f" that are {status}" if status else ""))
        return
    from bot.drafts.review import draft_line, photo_facts

    facts = photo_facts(app.store, [d.photo_id for d in items])
    rows = [draft_line(d, facts.get(d.photo_id), app.config.schedule.zone) for d in items]
    for line in list_lines(rows, console().width):
        echo(line)


# Column widths of `drafts list`: at most this wide, and the caption at least this wide beside the others.
LIST_CAPS = {"file": 32, "pets": 24}
MIN_CAPTION = 24


def list_lines(rows: list[dict[str, str]], width: int) -> list[str]:
    """One line per draft that fits `width` cells. Ids are never cut: the creation time goes first, then the
    caption moves to its own line under the draft, then the pets, the time and the file name are cut or go."""
    from rich.cells import cell_len, set_cell_size

    def fit(text: str, size: int) -> str:
        return text if cell_len(text) <= size else set_cell_size(text, max(1, size - 1)) + "…"

    def size(col: str) -> int:
        return min(max(cell_len(col), *(cell_len(r[col]) for r in rows)), LIST_CAPS.get(col, 10**6))

    columns = ["id", "status", "file", "pets", "when", "created"]
    widths = {c: size(c) for c in columns}

    def used() -> int:
        return sum(widths[c] for c in columns) + 2 * (len(columns) - 1)

    if used() + 2 + MIN_CAPTION > width:
        columns.remove("created")
    caption_inline = used() + 2 + MIN_CAPTION <= width
    for col in ("pets", "when", "file"):  # cut before dropping, never the id or the status
        while used() > width and widths[col] > 6:
            widths[col] -= 1
    for col in ("pets", "when"):
        if used() > width:
            columns.remove(col)
    lines = ["  ".join(fit(c, widths[c]).rjust(widths[c]) if c == "id" else set_cell_size(c, widths[c])
                       for c in columns) + ("  caption" if caption_inline else "")]
    for r in rows:
        cells = [r[c].rjust(widths[c]) if c == "id" else set_cell_size(fit(r[c], widths[c]), widths[c])
                 for c in columns]
        line = "  ".join(cells)
        if caption_inline:
            lines.append(line + "  " + fit(r["caption"], width - used() - 2))
        else:
            lines.append(line.rstrip())
            lines.append(" " * min(widths["id"] + 2, 8) + fit(r["caption"], width - min(widths["id"] + 2, 8)))
    return [line.rstrip() for line in lines]


@drafts.command("show")
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--preview", is_flag=True, help="Draw the photo as it will be posted (the 4:5..1.91:1 crop) here.")
@click.option("--open", "open_photo", is_flag=True, help="Open the posted copy in the system viewer (or say where to "
              "see it when there is no display).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def show(app: App, draft_id: int, preview: bool, open_photo: bool, as_json: bool) -> None:
    """One draft: photo, pets, caption and every candidate."""
    from bot.cli.preview import open_photo_or_site, posted_copy
    from bot.drafts.actions import get_draft
    from bot.drafts.editing import media_views
    from bot.drafts.review import photo_facts
    from bot.publish.slots import goes_out, planned

    d = get_draft(app.store, draft_id)
    views = media_views(app.store, draft_id, d)
    facts = photo_facts(app.store, [d.photo_id]).get(d.photo_id)
    reel = d.kind == "video"
    # A Reel's posted file is made when it is posted; its cover frame is what the owner reviews here.
    prepared, why = (None, None) if reel else posted_copy(app, d.photo_id, make=preview or open_photo)
    if open_photo:
        open_photo_or_site(app, prepared or (Path(d.photo) if d.photo else None), d.id)
    # When it really goes out (slot, jitter, daily cap, the drafts ahead): what `pawpost schedule` shows.
    plan = planned(app.store, app.config, draft_id)
    if as_json:
        from bot.timeutil import iso

        emit_json({**d.to_json(), "goes_out_at": iso(plan.at) if plan else None, "lead_reason": views[0].lead_reason,
                   "source_name": facts.source_name if facts else None,
                   "taken_at": facts.taken_at if facts else None,
                   "taken_at_source": facts.taken_at_source if facts else None,
                   "prepared": str(prepared) if prepared else None})
        return
    from rich.markup import escape

    from bot.timeutil import local

    zone = app.config.schedule.zone
    out = console()
    out.print(f"[bold]draft {d.id}[/] - {d.status}")
    if d.publish_state:
        out.print(f"publishing: {PUBLISH_STATES.get(d.publish_state, d.publish_state)}")
    if facts:
        clock = ", by the file's time: it has no EXIF capture time" if facts.taken_at_source == "file" else ""
        taken = f" (taken {local(facts.taken_at, zone)}{clock})" if facts.taken_at else ""
        out.print(f"file:    {escape(facts.source_name)}{taken}")
    if reel:
        from bot.cli.preview import clip_facts, draw_cover

        out.print(f"video:   {d.photo}")
        out.print(f"reel:    {clip_facts(d.duration_s, d.cover_at)} (change it: 'drafts cover {d.id} SECONDS')")
        if preview:
            draw_cover(d.photo, d.cover_at, d.duration_s, out)
    else:
        out.print(f"photo:   {d.photo}")
        out.print(f"posted copy: {prepared}" if prepared else f"[yellow]posted copy:[/] none: {escape(why or '')}")
    if len(views) > 1 and not reel:
        from bot.cli.preview import show_media

        out.print(f"photos:  {len(views)}, in order (change them: 'drafts media {d.id} list')")
        show_media(app, views, out, draw_photos=preview)
    elif not reel:
        if views[0].lead_reason:
            out.print(f"leads:   {escape(views[0].lead_reason)}")
        if preview and prepared:
            from bot.cli.preview import draw

            draw(prepared, out)
    from bot.drafts.review import pets_shown

    # The cover photo's pets with how sure pawpost is (as the page and the review loop show them), then the others.
    cover = [p.name.lower() for p in facts.pets] if facts else []
    others = [n for n in d.pets if n.lower() not in cover]
    extra = f" (other photos: {', '.join(others)})" if others else ""
    out.print(f"pets:    {escape(pets_shown(facts.pets if facts else []))}{escape(extra)}")
    if d.hint:
        out.print(f"hint:    {escape(d.hint)}")
    out.print(f"created: {local(d.created_at, zone)}")
    if d.scheduled_for:
        out.print(f"at:      {local(d.scheduled_for, zone)}")
    if plan is not None:
        out.print(f"goes out: {goes_out(plan, app.config)}")
    if d.posted_at:
        out.print(f"posted:  {local(d.posted_at, zone)} {d.media_url or d.media_code or ''}")
    if d.error:
        out.print(f"[red]error:[/]   {escape(d.error)}")
    if d.note:
        out.print(f"[yellow]note:[/]    {escape(d.note)}")
    out.print(f"\n[bold]caption{' (edited)' if d.edited else ''}:[/]\n{escape(d.caption or '-')}\n")
    if len(views) == 1:
        out.print(f"[bold]alt text:[/] {escape(d.alt_text or '-')}  "
                  f"[dim](change it: 'drafts approve {d.id} --alt TEXT')[/]\n")
    for i, text in enumerate(d.candidates, 1):
        mark = "*" if text == d.caption else " "
        out.print(f"{mark}[{i}] {escape(text)}")
    for c in d.rejected_candidates:
        out.print(f"[dim]  refused ({escape(c['reason'] or '')}): {escape(c['text'][:120])}[/]")


@drafts.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--candidate", type=int, help="Use candidate N (as numbered by 'drafts show').")
@click.option("--caption", help="Use this text as the caption.")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"', help="Post at this local time instead of the next slot.")
@click.option("--alt", "alt_text", metavar="TEXT", help="Alt text (what the photo shows, for screen readers).")
@pass_app
def approve(app: App, draft_id: int, candidate: int | None, caption: str | None, at: str | None,
            alt_text: str | None) -> None:
    """Approve a draft for posting."""
    from bot.drafts.actions import approve as approve_draft
    from bot.drafts.actions import parse_at
    from bot.limits import normalise
    from bot.publish.slots import goes_out, planned

    if candidate is not None and caption is not None:
        raise click.UsageError("give either --candidate or --caption, not both")
    when = parse_at(at, app.config) if at else None
    d = approve_draft(app.store, app.config, draft_id, candidate=candidate, caption=caption, at=when,
                      alt_text=alt_text)
    plan = planned(app.store, app.config, d.id)
    click.echo(f"draft {d.id} approved; it goes out {goes_out(plan, app.config)}" if plan else f"draft {d.id} approved")
    if caption is not None and d.caption != normalise(caption):
        echo(f"caption with the configured hashtags added: {d.caption}")


@drafts.command()
@click.argument("draft_id", type=DRAFT_ID)
@pass_app
def edit(app: App, draft_id: int) -> None:
    """Edit the caption in $EDITOR (or editor, nano, vi), with the candidates, pets and rules shown as comments;
    the edit is kept for retraining."""
    from bot.cli.preview import edit_caption
    from bot.drafts.actions import editable

    editable(app.store, draft_id)  # refuse before opening an editor, not after
    if not sys.stdin.isatty() and not os.environ.get("EDITOR") and not os.environ.get("VISUAL"):
        raise PawpostError("no $EDITOR is set; set it, or use 'pawpost drafts approve ID --caption TEXT'")
    click.echo(edit_caption(app, draft_id))


@drafts.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--reason", help="Why (kept for the record).")
@pass_app
def reject(app: App, draft_id: int, reason: str | None) -> None:
    """Reject a draft; it will never be posted."""
    from bot.drafts.actions import reject as reject_draft

    reject_draft(app.store, draft_id, reason)
    click.echo(f"draft {draft_id} rejected")


@drafts.command()
@click.option("--no-preview", is_flag=True, help="Do not draw the photos.")
@pass_app
def review(app: App, no_preview: bool) -> None:
    """Review pending drafts one by one: the photo as it will be posted, then approve, pick, edit, reject or skip."""
    from bot.cli.review import review_pending

    review_pending(app, preview=not no_preview)


@drafts.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--now", "send_now", is_flag=True, help="Send it at once instead of at the next free slot.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def resend(app: App, draft_id: int, send_now: bool, as_json: bool) -> None:
    """Your decision on an unsettled draft, after checking the account: it was not posted, send it again."""
    from bot.cli.posting import handed_to_you, poster_for

    poster = poster_for(app)
    try:
        look, result = poster.resend(draft_id, send_now=send_now)
    finally:
        poster.close()
    if as_json:
        emit_json({"look": look, "post": result})
    elif look.decision == DraftStatus.POSTED:
        click.echo(f"draft {draft_id} is on the account after all ({look.media_url or look.media_code}): posted, "
                   "nothing was sent again")
    else:
        click.echo(f"draft {draft_id}: {look.message}")
        if result is None:
            click.echo(f"draft {draft_id} goes out at the next free slot (see 'pawpost schedule')")
        elif result.status == DraftStatus.POSTED:
            click.echo(f"draft {draft_id} posted: {result.media_url or result.media_code}")
        elif handed_to_you(result):
            click.echo(f"draft {draft_id} {result.message}")
    if result is not None and result.status != DraftStatus.POSTED and not handed_to_you(result):
        fail(f"draft {draft_id} {result.message}")


@drafts.command()
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--url", metavar="URL", help="The post's link (https://www.instagram.com/p/CODE/).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def posted(app: App, draft_id: int, url: str | None, as_json: bool) -> None:
    """Your confirmation that a draft is on Instagram (you posted it by hand with the notify publisher)."""
    from bot.cli.posting import poster_for

    poster = poster_for(app)
    try:
        result = poster.confirm_posted(draft_id, url)
    finally:
        poster.close()
    if as_json:
        emit_json(result)
    else:
        click.echo(f"draft {draft_id} {result.message}")


def register(cli: click.Group) -> None:
    from bot.cli.corrections import pets, regenerate, restore, unapprove
    from bot.cli.media import cover, media

    for command in (media, cover, regenerate, pets, unapprove, restore):
        drafts.add_command(command)
    cli.add_command(drafts)
