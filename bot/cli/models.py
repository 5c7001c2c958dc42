"""`pawpost retrain`, `pawpost models list|rollback` and `pawpost history import`: the caption model's upkeep."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bot.cli import App, console, emit_json, pass_app

SHOWN_METRICS = [("cider", "CIDEr-D", "{:.3f}"), ("bleu", "BLEU", "{:.2f}"), ("rouge_l", "ROUGE-L", "{:.3f}"),
                 ("distinct_2", "distinct-2", "{:.3f}"), ("rejected_share", "rule rejections", "{:.1%}"),
                 ("mean_length", "mean length (tokens)", "{:.1f}")]


@contextmanager
def progress_bar(as_json: bool) -> Iterator[Any]:
    """A rich progress bar on stderr (stdout stays one JSON document), with loss and time left while training."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    err = Console(stderr=True)
    # Only on a terminal: under the systemd timer or in a pipe a bar is noise in the journal.
    progress = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                        console=err, transient=as_json, disable=not err.is_terminal)
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int, loss: float | None = None) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total, info="")
        info = f"loss {loss:.3f}" if loss is not None else ""
        progress.update(tasks[phase], completed=done, total=total, info=info)

    with progress:
        yield update


@click.command()
@click.option("--force", is_flag=True, help="Retrain even with fewer than retrain.min_new_posts new posts.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def retrain(app: App, force: bool, as_json: bool) -> None:
    """Build the dataset from past posts, fine-tune, evaluate, and promote the new model only if it is better."""
    from training.finetune import stop_on_sigterm
    from training.retrain import retrain as run_retrain

    with stop_on_sigterm() as stop, progress_bar(as_json) as update:
        result = run_retrain(app.store, app.config, progress=update, stop=stop, force=force)
    if as_json:
        emit_json(result.to_json())
        return
    out = console()
    if result.old and result.new:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("metric")
        table.add_column(f"old ({result.old_label})", justify="right")
        table.add_column(f"new ({result.version.id if result.version else '-'})", justify="right")
        for key, label, fmt in SHOWN_METRICS:
            table.add_row(label, fmt.format(result.old[key]), fmt.format(result.new[key]))
        out.print(table)
        counts = result.counts
        out.print(f"data: {counts.get('train', 0)} training, {counts.get('holdout', 0)} held-out posts "
                  f"({counts.get('edited', 0)} edited by you); {result.new_posts} new since the last retrain")
    from rich.markup import escape

    style = {"promoted": "green", "kept": "yellow"}.get(result.status, "")
    out.print(f"[{style}]{escape(result.message)}[/]" if style else escape(result.message))


@click.group()
def models() -> None:
    """The caption model versions made by 'pawpost retrain'."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """Every version with its metrics; * marks the one in use."""
    from training.registry import Registry

    versions = Registry(app.config).versions()
    if as_json:
        emit_json([v.to_json() for v in versions])
        return
    if not versions:
        click.echo("no caption model versions yet; the base model is in use ('pawpost retrain' makes one)")
        return
    from rich.table import Table

    from bot.timeutil import local

    table = Table(box=None, pad_edge=False)
    for col in ("", "version", "created", "promoted", "posts", "CIDEr-D", "BLEU", "ROUGE-L", "rejected", "reason"):
        table.add_column(col, overflow="fold", max_width=60 if col == "reason" else None)
    zone = app.config.schedule.zone
    for v in versions:
        new = v.metrics.get("new", {})
        table.add_row("*" if v.current else "", v.id, local(v.created_at, zone), "yes" if v.promoted else "no",
                      str(v.counts.get("train", 0) + v.counts.get("holdout", 0)),
                      *(fmt.format(new[key]) if key in new else "-" for key, _, fmt in SHOWN_METRICS[:3]),
                      f"{new['rejected_share']:.0%}" if "rejected_share" in new else "-", v.reason)
    console().print(table)
    if not any(v.current for v in versions):
        click.echo("in use: the base model (no version is promoted)")


@models.command()
@pass_app
def rollback(app: App) -> None:
    """Go back to the version promoted before the current one (or to the base model)."""
    from training.registry import Registry

    registry = Registry(app.config)
    previous = registry.current_id()
    version = registry.rollback()
    now = version.id if version else "the base model"
    click.echo(f"rolled back from {previous} to {now}; a running pawpost picks it up without a restart")


@click.group()
def history() -> None:
    """The account's posts from before pawpost."""


@history.command("import")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many of the newest posts.")
@click.option("--no-recognize", is_flag=True, help="Do not run pet recognition on the imported photos now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def import_cmd(app: App, limit: int | None, no_recognize: bool, as_json: bool) -> None:
    """Import the account's past posts (captions, dates, photos) for retraining; safe to run again."""
    from training.finetune import stop_on_sigterm
    from training.history import import_history

    with stop_on_sigterm() as stop, progress_bar(as_json) as update:
        summary = import_history(app.store, app.config, progress=update, stop=stop, limit=limit,
                                 recognize=not no_recognize)
    if as_json:
        emit_json(summary.to_json())
        return
    click.echo(summary.message())


def register(cli: click.Group) -> None:
    cli.add_command(retrain)
    cli.add_command(models)
    cli.add_command(history)
