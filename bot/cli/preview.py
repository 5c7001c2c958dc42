"""Seeing a draft from a terminal: every photo of the post as it will be posted, drawn in place (Kitty or Sixel
graphics where the terminal has them, iTerm's inline images, half-blocks otherwise), with its alt text; the editor
file for `drafts edit`, and the editor to use.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.errors import PawpostError

# `drafts edit` ignores this line and everything below it (as `git commit -v` does).
SCISSORS = "# ------------------------ >8 ------------------------"
PREVIEW_COLUMNS = 60


def fit_columns(size: tuple[int, int], width: int, height: int | None = None, reserve: int = 0) -> int:
    """How many columns wide a photo of `size` pixels is drawn: at most PREVIEW_COLUMNS and the terminal's `width`,
    and, given the terminal's `height`, short enough to leave `reserve` rows for the text around it. A half-block
    cell shows two pixels stacked, so a drawing `cols` wide is about cols * h / w / 2 rows tall."""
    w, h = size
    cols = min(PREVIEW_COLUMNS, width)
    if height is not None and w > 0 and h > 0:
        cols = min(cols, int(max(4, height - reserve) * 2 * w / h))
    return max(8, cols)


def draw(path: Path, out: Any, columns: int | None = None, *, reserve: int | None = None) -> None:
    """Draw the image at `path` on the console `out`, `columns` wide (default: fits the terminal, at most 60; with
    `reserve`, also short enough to leave that many of the terminal's rows for the text around it)."""
    if reserve is not None and columns is None:
        from PIL import Image

        with Image.open(path) as im:
            columns = fit_columns(im.size, out.width, out.height, reserve)
    cols = max(8, min(columns or PREVIEW_COLUMNS, out.width))
    if os.environ.get("TERM_PROGRAM") == "iTerm.app" and out.is_terminal:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        out.file.write(f"\033]1337;File=inline=1;width={cols};preserveAspectRatio=1:{data}\a\n")
        out.file.flush()
        return
    from rich.console import Console
    from textual_image.renderable import HalfcellImage, Image, UnicodeImage

    renderable = HalfcellImage if Image is UnicodeImage else Image
    target = out
    if not out.is_terminal:
        # Asked for a preview on a pipe (or in a test): colour half-blocks, which any later `cat` shows.
        target = Console(file=out.file, force_terminal=True, color_system="truecolor", width=out.width)
    target.print(renderable(str(path), width=cols, height="auto"))


def show_media(app: Any, media: list[Any], out: Any, *, draw_photos: bool, reserve: int | None = None) -> None:
    """Every photo of a post in order (bot.drafts.editing's MediumView): place, photo id, file, pets, alt text and
    why it leads where the shoot says; each drawn as it will be posted when `draw_photos` (with `reserve`: each
    short enough to leave that many terminal rows for the text, see `draw`)."""
    from rich.markup import escape

    for m in media:
        pets = ", ".join(m.pets) or "no pet recognised"
        cover = " (cover)" if m.place == 1 and len(media) > 1 else ""
        what = "video" if m.kind == "video" else "photo"
        out.print(f"  {m.place}. {what} {m.photo_id}{cover}  {escape(m.file_name)}  ({escape(pets)})")
        if m.kind == "video":
            out.print(f"      {clip_facts(m.duration_s, m.cover_at)}")
        out.print(f"      alt: {escape(m.alt_text or '-')}")
        if m.lead_reason:
            out.print(f"      leads: {escape(m.lead_reason)}")
        if draw_photos and m.kind == "video":
            draw_cover(m.path, m.cover_at, m.duration_s, out)
        elif draw_photos:
            from bot.publish.errors import BadContent, PublishError
            from bot.publish.prepare import prepared_copy

            try:
                draw(prepared_copy(app.store, m.photo_id), out, reserve=reserve)
            except (BadContent, PublishError) as exc:
                out.print(f"[yellow]no preview:[/] {escape(str(exc))}")


def clip_facts(duration_s: float | None, cover_at: float | None) -> str:
    """A video's length and where its cover lies, in one line."""
    from bot.drafts.review import clip_length

    cover = "not chosen yet" if cover_at is None else f"at {cover_at:.1f} s"
    return f"length {clip_length(duration_s)}, cover {cover}"


def draw_cover(path: str | Path | None, cover_at: float | None, duration_s: float | None, out: Any) -> None:
    """Draw a video's cover frame (its middle until one is chosen) on the console `out`."""
    import tempfile

    from rich.markup import escape

    from bot.errors import BadVideo
    from bot.video.frames import frame_at

    if path is None:
        out.print("[yellow]no preview:[/] the video is no longer in the library")
        return
    at = cover_at if cover_at is not None else (duration_s or 0.0) / 2
    try:
        image = frame_at(Path(path), at, max_side=1280)
    except BadVideo as exc:
        out.print(f"[yellow]no preview:[/] {escape(str(exc))}")
        return
    with tempfile.TemporaryDirectory(prefix="pawpost-cover-") as folder:
        target = Path(folder) / "cover.jpg"
        image.save(target, "JPEG", quality=90)
        draw(target, out)


def posted_copy(app: Any, photo_id: int, make: bool) -> tuple[Path | None, str | None]:
    """The cached posted copy (made now if missing and `make`), or None and why there is none."""
    from bot.publish.errors import BadContent, PublishError
    from bot.publish.prepare import cached_copy, prepared_copy

    if not make:
        cached = cached_copy(app.store, photo_id)
        return (cached, None) if cached else (None, "not made yet ('drafts show ID --preview' makes it)")
    try:
        return prepared_copy(app.store, photo_id), None
    except (BadContent, PublishError) as exc:
        return None, str(exc)


def open_photo_or_site(app: Any, path: Path | None, draft_id: int) -> None:
    """Open in the desktop's viewer; on a headless server, say so and point to the review site instead."""
    import click

    from bot.drafts.review import has_display
    from bot.links import draft_link

    if path is not None and has_display():
        click.launch(str(path))
        return
    url = draft_link(app.config, draft_id)
    click.echo(f"no display to open the photo on (no $DISPLAY or $WAYLAND_DISPLAY); see it on the review site: run "
               f"'pawpost web' (or 'pawpost web --url' for a login link) and open {url}", err=True)
    click.echo(url)


def next_step(d: Any) -> str:
    """What the owner can do now: approve only when there is a caption to approve."""
    if d.candidates:
        return f"approve with 'pawpost drafts approve {d.id}' (or --candidate N)"
    if d.caption:
        return (f"no new candidate passed the rules; approve the previous caption with 'pawpost drafts approve "
                f"{d.id}', or write your own with --caption TEXT")
    return (f"nothing to approve yet: write the caption with 'pawpost drafts approve {d.id} --caption TEXT', or try "
            f"again with 'pawpost drafts regenerate {d.id} --hint TEXT'")


def pick_editor(environ: Mapping[str, str] | None = None,
                which: Callable[[str], str | None] = shutil.which) -> str:
    """$VISUAL, then $EDITOR, then the system's `editor`, `nano`, `vi`; a clear error when there is none."""
    env = os.environ if environ is None else environ
    for key in ("VISUAL", "EDITOR"):
        if env.get(key, "").strip():
            return env[key]
    for name in ("editor", "nano", "vi"):
        found = which(name)
        if found:
            return found
    raise PawpostError("no editor found: set $EDITOR (e.g. export EDITOR=nano), or use "
                       "'pawpost drafts approve ID --caption TEXT'")


def editor_text(card: Any, max_hashtags: int) -> str:
    """The file `drafts edit` opens: the caption on top, then what helps write it, as lines that are ignored."""
    d = card.draft
    pets = ", ".join(f"{p.name} ({'set by you' if p.by_owner else f'{p.confidence:.2f}'})" for p in card.photo.pets)
    lines = [
        d.caption or "",
        "",
        SCISSORS,
        "# Write the caption above the line; everything from the line down is ignored.",
        "# An empty caption (or quitting without saving) changes nothing.",
        f"# Draft {d.id} ({d.status}), photo {card.photo.source_name}; pets: {pets or 'none recognised'}",
        f"# Rules: at most {card.counts.max_chars} characters, {max_hashtags} hashtags (captions.max_hashtags), "
        f"{card.counts.max_mentions} @mentions.",
    ]
    if d.hint:
        lines.append(f"# Your hint: {d.hint}")
    if d.candidates:
        lines.append("# Candidates (copy one up, or approve one with 'pawpost drafts approve ID --candidate N'):")
        lines += [f"#  [{i}] " + text.replace("\n", "\n#      ") for i, text in enumerate(d.candidates, 1)]
    return "\n".join(lines) + "\n"


def caption_from_editor(text: str) -> str:
    """The caption the owner wrote: everything above the scissors line."""
    kept = []
    for line in text.splitlines():
        if line.strip() == SCISSORS:
            break
        kept.append(line)
    return "\n".join(kept).strip()


# Lines pawpost puts on top of a caption it reopens; removed from what is saved (a hashtag has no space after #).
EDITOR_MARK = "# pawpost:"


def edit_caption(app: Any, draft_id: int) -> str:
    """Open the editor on a draft's caption and save the owner's text; returns the one line to print.

    A caption Instagram would refuse is reopened with the reason on top, so the owner's edit is never thrown
    away; saved unchanged or closed without saving, the refusal stands and nothing is changed. A draft that changed
    while the editor was open (approved or edited on the page, in another terminal) is never saved over silently:
    the owner is asked (overwrite, keep theirs, re-edit); without a terminal to ask on, nothing is saved and the
    owner's text is printed so it is not lost."""
    import click

    from bot.drafts.actions import edit, owner_caption_problem
    from bot.drafts.review import card
    from bot.errors import ChangedMeanwhile

    c = card(app.store, app.config, draft_id)
    version = c.draft.version
    editor = pick_editor()
    shown = editor_text(c, app.config.captions.max_hashtags)
    started = (c.draft.caption or "").strip()
    problem = None
    while True:
        text = click.edit(shown, editor=editor, extension=".txt", require_save=True)
        if text is None:
            if problem is not None:
                raise PawpostError(f"{problem}; nothing was changed")
            return "caption unchanged"
        if problem is not None and text.rstrip("\n") == shown.rstrip("\n"):
            raise PawpostError(f"{problem}; nothing was changed")  # saved as it was: do not ask forever
        caption = "\n".join(line for line in caption_from_editor(text).split("\n")
                            if not line.startswith(EDITOR_MARK)).strip()
        if not caption:
            return "empty caption; nothing was changed"
        if problem is None and caption == started:
            return "caption unchanged"
        problem = owner_caption_problem(caption, app.config)
        rest = shown[shown.index(SCISSORS):] if SCISSORS in shown else ""
        if problem is None:
            try:
                edit(app.store, app.config, draft_id, caption, expect_version=version)
                return f"draft {draft_id} caption saved"
            except ChangedMeanwhile as changed:
                answer = _ask_changed(changed, caption)
                now = card(app.store, app.config, draft_id)
                version, started = now.draft.version, (now.draft.caption or "").strip()
                if answer == "keep":
                    return f"draft {draft_id}: kept as it is now; your text was not saved"
                if answer == "overwrite":
                    edit(app.store, app.config, draft_id, caption, expect_version=version)
                    return f"draft {draft_id} caption saved (over the change made meanwhile)"
                theirs = "\n".join(f"#   {line}" for line in (changed.caption or "-").split("\n"))
                shown = (f"{EDITOR_MARK} Draft {draft_id} changed while you were editing: it is {changed.status} "
                         f"now; its caption now is at the bottom.\n{EDITOR_MARK} Your text is below; save to "
                         f"replace theirs, or quit without saving to keep it.\n{caption}\n\n"
                         f"{editor_text(now, app.config.captions.max_hashtags)[len(now.draft.caption or ''):]}"
                         f"# The caption now:\n{theirs}\n")
                started = None  # whatever is saved now is the owner's decision, even their text unchanged
                continue
        shown = (f"{EDITOR_MARK} {problem}.\n{EDITOR_MARK} Fix the caption below and save; lines starting with "
                 f"'{EDITOR_MARK}' are removed.\n{caption}\n\n{rest}")


CHANGED_PROMPT = "[o]verwrite with yours, [k]eep theirs, [r]e-edit"


def _ask_changed(changed: Any, yours: str) -> str:
    """What to do about a draft that changed while the editor was open: overwrite, keep or re-edit. Without a
    terminal nobody can answer: the refusal (one line) stands, and the owner's text goes to stdout, not lost."""
    import sys

    import click

    from bot.controls import shown

    if not sys.stdin.isatty():
        click.echo(shown(yours))
        raise PawpostError(f"{changed}; your text (printed above) was not saved: run 'pawpost drafts edit "
                           f"{changed.draft_id}' again")
    click.echo(shown(f"draft {changed.draft_id} changed meanwhile: it is {changed.status} now, with the caption:\n"
                     f"{changed.caption or '-'}\nyours:\n{yours}"))
    while True:
        answer = click.prompt(CHANGED_PROMPT, default="r").strip().lower()
        for choice in ("overwrite", "keep", "re-edit"):
            if answer and choice.startswith(answer[0]):
                return choice
