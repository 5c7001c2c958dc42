"""Commands to set up and look after pawpost: init, status, doctor, restore."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import App, console, emit_json, pass_app


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing pawpost.toml.")
@click.option("--gpu/--no-gpu", default=None, help="Choose the caption models for a machine with (or without) a GPU; "
              "default: look for one.")
def init(directory: Path, force: bool, gpu: bool | None) -> None:
    """Write a starter config (DIR/pawpost.toml) and create its folders."""
    from bot.home import NO_GPU_MODELS
    from bot.home import init as init_workspace

    done = init_workspace(directory, force=force, gpu=gpu)
    config_file = done.config_file
    click.echo(f"wrote {config_file}")
    if done.no_gpu:
        click.echo(f"no GPU found: the config uses the no-GPU models (README, \"No GPU\"): no detector (each photo is "
                   f"matched whole), {NO_GPU_MODELS['describer']} and {NO_GPU_MODELS['writer']} write the captions "
                   "on the CPU; with a GPU, or an inference server (models.server), use the default chat model")
    for folder in done.created:
        click.echo(f"created {folder}")
    if done.linked:
        click.echo(f"linked {done.linked} to it: pawpost finds this config from any folder")
    # Suggest commands that find this config: plain ones where the per-user config is this one.
    pawpost = "pawpost" if done.found else f"pawpost --config {config_file}"
    click.echo(f"next: edit {config_file} (a [[pets]] table per pet, your voice, time zone and slots), put 3-10 "
               f"photos of each pet in its photos folder, then run '{pawpost} doctor' and '{pawpost} run'")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Queue counts, next slot, last post, cooldown, last error, models."""
    from bot.status import status as get_status

    info = get_status(app.store, app.config)
    if as_json:
        emit_json(info)
        return
    from bot.status import posting_lines
    from bot.timeutil import local

    out = console()
    photos = ", ".join(f"{n} {s}" for s, n in info["photos"].items() if n) or "none"
    drafts = ", ".join(f"{n} {s}" for s, n in info["drafts"].items() if n) or "none"
    from rich.markup import escape

    for problem in info["setup_problems"]:
        out.print(f"[yellow]setup:[/]     {escape(problem)}")
    out.print(f"photos:    {photos}")
    out.print(f"drafts:    {drafts}")
    for line in posting_lines(info, app.config):
        out.print(line)
    for key, model in info["models"].items():
        line = f"{key}: {model['id']}"
        if model.get("version"):
            line += f" ({model['version']})"
        if model.get("url"):
            line += f" at {model['url']} ({model['role']})"
        if model.get("unreachable_since"):
            since = f"{local(model['unreachable_since'], app.config.schedule.zone)} {app.config.schedule.timezone}"
            line += f" [red]- unreachable since {escape(since)}: {escape(model['error'] or '')}[/]"
        elif model["error"]:
            line += f" [red]- {model['error']}[/]"
        out.print(f"model     {line}")
    if info.get("retrain_off"):
        out.print(f"[yellow]retrain:[/]   {escape(info['retrain_off'])}")
    for photo in info["waiting"]:
        out.print(f"[yellow]waiting:[/] photo {photo['id']} ({photo['source_name']}): {photo['error']}")
    for photo in info["quarantined"]:
        out.print(f"[red]quarantined:[/] photo {photo['id']} ({photo['source_name']}): {photo['reason']}")
    if info["quarantined"]:
        out.print("[dim]retry or dismiss them: 'pawpost quarantine list'[/]")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check config, folders, GPU, models and the Instagram session; one line each."""
    from bot.doctor import run_checks

    checks = run_checks(app.config)
    failed = [c for c in checks if not c.ok]
    if as_json:
        emit_json({"ok": not failed, "checks": checks})
    else:
        from rich.markup import escape

        out = console()
        for c in checks:
            mark = "[green]OK  [/]" if c.ok and not c.warning else "[yellow]WARN[/]" if c.ok else "[red]FAIL[/]"
            out.print(f"{mark} {escape(c.name)}: {escape(c.message)}")
        out.print(f"{len(failed)} problem(s) to fix" if failed else "all checks passed")
    if failed:
        from bot.errors import PawpostError

        raise PawpostError(f"{len(failed)} problem(s) to fix: " + "; ".join(c.name for c in failed))


@click.command()
@click.option("--fresh", is_flag=True, help="Start over with an empty database on purpose (library files stay on disk, "
              "forgotten: a photo dropped in again may be posted again).")
@click.option("--force", is_flag=True, help="Replace a database that is still whole (it is kept aside).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def restore(app: App, fresh: bool, force: bool, as_json: bool) -> None:
    """Bring the database back: the newest good backup, then what the library and the outbox prove (stop the
    daemon first)."""
    from rich.markup import escape

    from bot.store.restore import restore as restore_database

    report = restore_database(app.config, fresh=fresh, force=force)
    if as_json:
        emit_json(report)
        return
    out = console()
    if report.set_aside:
        out.print(f"the old database files ({report.state}) are kept in {report.set_aside}")
    if report.fresh:
        out.print(f"started over: {report.database} is a new, empty database")
        return
    if report.backup:
        out.print(f"restored {report.database} from the backup taken {report.backup_taken_at} ({report.backup})")
    else:
        out.print(f"no good backup: rebuilt {report.database} from the library and the outbox")
    out.print(f"{len(report.posts_recovered)} post(s) found in the outbox are recorded as posted")
    if report.held:
        out.print(f"[yellow]{len(report.held)} photo(s) waiting or approved in the backup are held back as pending "
                  "drafts[/]: they may have been posted after it; check the account, then approve or reject each")
    if report.photos_rebuilt:
        out.print(f"[yellow]{len(report.photos_rebuilt)} photo(s) from the library wait as pending drafts[/]: pawpost "
                  "cannot tell whether they were posted; check the account, then 'pawpost drafts approve ID "
                  "--caption TEXT' or 'pawpost drafts reject ID'")
    for problem in report.unreadable:
        out.print(f"[red]not readable:[/] {escape(problem)}")
    out.print("see 'pawpost drafts list --status pending'" if report.held or report.photos_rebuilt else "done")


def register(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(status)
    cli.add_command(doctor)
    cli.add_command(restore)
