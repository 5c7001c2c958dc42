"""Commands to set up and look after pawpost: init, status, doctor."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import App, console, emit_json, pass_app


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing pawpost.toml.")
def init(directory: Path, force: bool) -> None:
    """Write a starter config (DIR/pawpost.toml) and create its folders."""
    from bot.workspace import init as init_workspace

    done = init_workspace(directory, force=force)
    config_file = done.config_file
    click.echo(f"wrote {config_file}")
    for folder in done.created:
        click.echo(f"created {folder}")
    if done.linked:
        click.echo(f"linked {done.linked} to it: pawpost finds this config from any folder")
    # Suggest commands that find this config: plain ones where the per-user config is this one.
    pawpost = "pawpost" if done.found else f"pawpost --config {config_file}"
    click.echo(f"next: edit {config_file} (your pets, voice, slots), put 3-10 photos of each pet in its folder, "
               f"then run '{pawpost} doctor' and '{pawpost} run'")


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
    from bot.timeutil import local

    zone = app.config.schedule.zone
    out = console()
    photos = ", ".join(f"{n} {s}" for s, n in info["photos"].items() if n) or "none"
    drafts = ", ".join(f"{n} {s}" for s, n in info["drafts"].items() if n) or "none"
    from rich.markup import escape

    for problem in info["setup_problems"]:
        out.print(f"[yellow]setup:[/]     {escape(problem)}")
    out.print(f"photos:    {photos}")
    out.print(f"drafts:    {drafts}")
    out.print(f"next slot: {local(info['next_slot'], zone)}")
    last = info["last_post"]
    out.print(f"last post: {local(last['posted_at'], zone) + ' ' + (last['media_code'] or '') if last else '-'}")
    if info["posting_stopped"]:
        out.print(f"[red]posting stopped:[/] {info['posting_stopped']}")
    if info["cooldown_until"]:
        out.print(f"[yellow]cooldown:[/] Instagram asked us to slow down; posting resumes "
                  f"{local(info['cooldown_until'], zone)}")
    for key, model in info["models"].items():
        line = f"{key}: {model['id']}"
        if model.get("version"):
            line += f" ({model['version']})"
        if model["error"]:
            line += f" [red]- {model['error']}[/]"
        out.print(f"model     {line}")
    for photo in info["waiting"]:
        out.print(f"[yellow]waiting:[/] photo {photo['id']} ({photo['source_name']}): {photo['error']}")
    for photo in info["quarantined"]:
        out.print(f"[red]quarantined:[/] photo {photo['id']} ({photo['source_name']}): {photo['reason']}")
    if info["last_error"]:
        err = info["last_error"]
        out.print(f"last error: {local(err['at'], zone)} {err['message']}")


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


def register(cli: click.Group) -> None:
    cli.add_command(init)
    cli.add_command(status)
    cli.add_command(doctor)
