"""`pawpost retrain`, `pawpost models list|rollback` and `pawpost history import`: the caption model's upkeep."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from bot.cli import App, console, emit_json, pass_app

SHOWN_METRICS = [("bleu", "BLEU", "{:.2f}"), ("cider", "CIDEr-D", "{:.3f}"), ("rouge_l", "ROUGE-L", "{:.3f}"),
                 ("distinct_2", "distinct-2", "{:.3f}"), ("refused_share", "refused candidates", "{:.1%}"),
                 ("no_caption_share", "posts without a caption", "{:.1%}"),
                 ("mean_length", "mean length (tokens)", "{:.1f}")]


def _interval(metric: dict[str, Any], fmt: str) -> str:
    if "low" not in metric:
        return "-"
    signed = fmt.replace("{:", "{:+")
    return f"{signed.format(metric['low'])} .. {signed.format(metric['high'])}"


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
    if result.gate:
        from rich.table import Table

        metrics = result.gate["metrics"]
        table = Table(box=None, pad_edge=False)
        table.add_column("chosen captions vs held-out posts")
        table.add_column(f"old ({result.old_label})", justify="right")
        table.add_column(f"new ({result.version.id if result.version else '-'})", justify="right")
        table.add_column("new - old, interval", justify="right")
        for key, label, fmt in SHOWN_METRICS:
            m = metrics[key]
            table.add_row(label, fmt.format(m["old"]), fmt.format(m["new"]), _interval(m, fmt))
        out.print(table)
        counts = result.counts
        out.print(f"data: {counts.get('train', 0)} training, {counts.get('holdout', 0)} held-out posts "
                  f"({counts.get('edited', 0)} edited by you); {result.new_posts} new since the last retrain")
        if result.train is not None and result.plan:
            out.print(f"training: {result.train.steps} steps ({result.plan['done_epochs']:g} passes over the "
                      f"posts) in {result.train.seconds / 60:.1f} min; the data asks for "
                      f"{result.plan['wanted_steps']}")
        out.print(f"judged by {result.gate['method']}")
    from rich.markup import escape

    style = {"promoted": "green", "kept": "yellow"}.get(result.status, "")
    out.print(f"[{style}]{escape(result.message)}[/]" if style else escape(result.message))


@click.group()
def models() -> None:
    """The caption model versions made by 'pawpost retrain', and fetching the models for a machine without the hub."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """Every version with its metrics; * marks the one in use."""
    from bot.captions.registry import Registry

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
    for col in ("", "version", "created", "promoted", "posts", "steps", "BLEU old -> new", "refused old -> new",
                "reason"):
        table.add_column(col, overflow="fold", max_width=60 if col == "reason" else None)
    zone = app.config.schedule.zone
    for v in versions:
        gate = v.metrics.get("gate", {}).get("metrics", {})
        bleu, refused = gate.get("bleu"), gate.get("refused_share")
        table.add_row("*" if v.current else "", v.id, local(v.created_at, zone), "yes" if v.promoted else "no",
                      str(v.counts.get("train", 0) + v.counts.get("holdout", 0)),
                      str(v.metrics.get("plan", {}).get("done_steps", "-")),
                      f"{bleu['old']:.1f} -> {bleu['new']:.1f} ({_interval(bleu, '{:.1f}')})" if bleu else "-",
                      f"{refused['old']:.0%} -> {refused['new']:.0%}" if refused else "-", v.reason)
    console().print(table)
    if not any(v.current for v in versions):
        click.echo("in use: the base model (no version is promoted)")


@models.command()
@pass_app
def rollback(app: App) -> None:
    """Go back to the version promoted before the current one (or to the base model)."""
    from bot.captions.registry import Registry

    registry = Registry(app.config)
    previous = registry.current_id()
    version = registry.rollback()
    now = version.id if version else "the base model"
    click.echo(f"rolled back from {previous} to {now}; a running pawpost picks it up without a restart")


@models.command()
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="Put each model in a folder of its own here (default: the Hugging Face cache of this machine).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def download(app: App, to: Path | None, as_json: bool) -> None:
    """Fetch every model the config names from the Hugging Face hub (on a machine with internet) and print the
    [models] lines that load them from the folder; without a config, pawpost's default models."""
    from bot.model_download import config_lines, configured, plan
    from bot.model_download import download as fetch

    config, note = _config_or_defaults(app)
    to = to.expanduser().resolve() if to else None
    wanted = plan(config, to)
    _, skipped = configured(config)
    err = click.get_text_stream("stderr")
    if note and not as_json:
        click.echo(note, file=err)
    for key, value, why in skipped:
        if not as_json:
            click.echo(f"models.{key} = {value!r}: {why}, nothing to fetch", file=err)

    def starting(want: Any) -> None:
        if not as_json:
            click.echo(f"models.{want.key}: {want.model_id} -> {want.folder or 'the Hugging Face cache'}", file=err)

    fetched = fetch(wanted, starting=starting)
    lines = config_lines(fetched) if to else []
    if as_json:
        emit_json({"models": [f.to_json() for f in fetched], "config_lines": lines})
        return
    size = sum(f.bytes for f in fetched) / 2**30
    click.echo(f"{len(fetched)} model(s), {size:.1f} GiB, in {to or 'the Hugging Face cache'}", file=err)
    if not to:
        click.echo("they load from the cache on this machine; for a machine without the hub, run this again with "
                   "--to DIR", file=err)
        return
    click.echo(f"Copy {to} to the machine that runs pawpost (for example 'rsync -a {to}/ HOST:{to}/'), keeping its "
               "path or changing the paths below to where it lands, and put these lines in its config in place of "
               "the [models] keys they name:", file=err)
    click.echo("\n".join(lines))


def _config_or_defaults(app: App) -> tuple[Any, str | None]:
    """The config the contract's order finds; pawpost's defaults when there is none at all (a laptop that fetches
    the models for a home server need not hold its config)."""
    from bot.config import Config
    from bot.config.loading import CONFIG_ENV, find_config_path
    from bot.errors import ConfigError

    if app.config_path is None and not os.environ.get(CONFIG_ENV):
        try:
            find_config_path()
        except ConfigError:
            return Config(), "no config file found: fetching pawpost's default models"
    return app.config, None


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
