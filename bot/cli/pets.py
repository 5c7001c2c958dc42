"""`pawpost pets ...`: add, list, identify, eval (`pawpost drafts pets ID NAME...` is in bot.cli.drafts)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import App, console, echo, emit_json, pass_app


@click.group()
def pets() -> None:
    """Your pets: reference photos, recognition and its accuracy."""


@pets.command("add")
@click.argument("name")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def add(app: App, name: str, photos: tuple[Path, ...]) -> None:
    """Add reference photos of pet NAME (copied into the data folder)."""
    from bot.vision.pets import add_references

    added = add_references(app.store, app.config, app.models.vision(), name, list(photos))
    for ref in added:
        where = "whole photo (no animal detected)" if ref.box is None else f"animal at {_box(ref.box)}"
        state = "added" if ref.new else "already a reference"
        echo(f"{ref.source}: {state}, {where}")
    click.echo(f"{sum(r.new for r in added)} reference photo(s) added to {name}")


@pets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_cmd(app: App, as_json: bool) -> None:
    """Each pet with its reference photos and how many photos it was recognised in."""
    from bot.vision.pets import pet_summaries

    items = pet_summaries(app.store, app.config)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("no pets configured; add a [[pets]] table per pet to the config")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("name", "species", "references", "folder", "added", "corrections", "photos"):
        table.add_column(col)
    for p in items:
        folder = f"{p['by_origin']['config']}/{p['folder_photos']}" if p["folder"] else "-"
        table.add_row(p["name"], p["species"], str(p["references"]), folder, str(p["by_origin"]["added"]),
                      str(p["by_origin"]["correction"]), str(p["photos"]))
    console().print(table)


@pets.command()
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def identify(app: App, photo: Path, as_json: bool) -> None:
    """Which of your pets are in PHOTO (nothing is stored)."""
    from bot.cli.progress import progress
    from bot.vision.images import open_image
    from bot.vision.pets import references

    image = open_image(photo, app.config.ingest.max_megapixels)
    vision = app.models.vision()
    with progress(f"loading the models and looking for your pets in {photo.name}..."):
        result = vision.analyze([image], references(app.store, app.config, vision))[0]
    if as_json:
        emit_json({
            "photo": str(photo),
            "pets": [{"name": a.pet, "confidence": round(a.confidence, 4), "box": [round(v, 1) for v in a.box],
                      "similarity": round(a.similarity, 4)} for a in result.pets],
            **result.to_json(),
        })
        return
    for a in result.pets:
        click.echo(f"{a.pet}: confidence {a.confidence:.2f} (similarity {a.similarity:.2f}) at {_box(a.box)}")
    if result.unknown:
        click.echo(f"{result.unknown} other animal(s), none of your pets")
    if result.no_animal and vision.detector.disabled:
        click.echo('the photo does not look like any of your pets (detector = "none": the whole photo is compared)')
    elif result.no_animal:
        click.echo("no animal found, and the photo does not look like any of your pets")
    elif result.whole_image and not vision.detector.disabled:
        click.echo("(no animal was detected; the whole photo was compared with your pets)")


@pets.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def eval_cmd(app: App, folder: Path, as_json: bool) -> None:
    """Recognition accuracy on FOLDER/<pet name>/*.jpg and FOLDER/none/*.jpg, and the match threshold in use."""
    from bot.cli.progress import progress
    from bot.vision.evaluate import evaluate

    with progress("loading the models and your pets' reference photos...") as show:
        result = evaluate(app.store, app.config, app.models.vision(), folder,
                          progress=lambda done, total: show(f"identifying pets: {done} of {total} photos..."))
    if as_json:
        emit_json(result.to_json())
        return
    from rich.table import Table

    out = console()
    out.print(f"{result.photos} photos, match threshold {result.threshold:.3f}: {result.threshold_how}")
    out.print(f"animal check {result.animal_check}" + (f"; {result.no_animal} photo(s) showed no animal"
                                                        if result.animal_check.startswith("on") else ""))
    out.print(f"top-1 accuracy: {result.accuracy:.1%}   unknown rate (a pet seen as no pet): "
              f"{result.unknown_rate:.1%}")
    table = Table(title="true (rows) / predicted (columns)", box=None, pad_edge=False)
    table.add_column("")
    for label in result.labels:
        table.add_column(label, justify="right")
    for truth in result.labels:
        table.add_row(truth, *(str(result.confusion[truth][p]) for p in result.labels))
    out.print(table)
    sweep = Table(title="at other thresholds", box=None, pad_edge=False)
    for col in ("threshold", "accuracy", "unknown rate"):
        sweep.add_column(col, justify="right")
    for row in result.sweep:
        sweep.add_row(f"{row['threshold']:.2f}", f"{row['accuracy']:.1%}", f"{row['unknown_rate']:.1%}")
    out.print(sweep)
    for reason in result.skipped:
        out.print(f"[yellow]skipped:[/] {reason}")


def _box(box: list[float]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in box) + "]"


def register(cli: click.Group) -> None:
    cli.add_command(pets)
