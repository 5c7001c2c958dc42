"""The CLI review points: `drafts list` never cuts an id and names the original file, `drafts show --preview`
draws the posted copy, `--open` without a display points to the review site, `drafts edit` shows candidates,
pets and rules as ignored lines, and `drafts review` walks the pending drafts."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.preview import SCISSORS, caption_from_editor, pick_editor
from bot.drafts.media import add_draft
from bot.errors import PawpostError
from tests.bot.publish.conftest import jpeg
from tests.conftest import run_cli

NOW = "2026-11-22T10:00:00+00:00"
LONG = "An extraordinarily long caption about blankets, rain, naps and the many opinions of a small dog " * 2


def add(store, draft_id: int, source_name: str, candidates: list[str], status: str = "pending") -> int:
    path = store.data_dir / "library" / f"{draft_id}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg((900, 1600), (40, 120, 200)))
    photo = store.insert("photos", sha256=f"sha{draft_id}", status="drafted", source_name=source_name,
                         path=f"library/{draft_id}.jpg", taken_at="2026-11-20T08:15:00+00:00",
                         created_at=NOW, updated_at=NOW)
    add_draft(store, [photo], id=draft_id, status=status, caption=candidates[0], chosen=0,
              created_at=NOW, updated_at=NOW)
    for pos, text in enumerate(candidates):
        store.insert("candidates", draft_id=draft_id, position=pos, text=text)
    return draft_id


@pytest.mark.parametrize("columns", ["80", "50"])
def test_list_never_cuts_an_id_and_shows_the_original_file(home: Path, store, columns: str) -> None:
    ids = [add(store, 1234560 + n, f"holiday/IMG_{n:04d}.HEIC", [LONG]) for n in range(3)]

    result = run_cli("drafts", "list", config=home / "pawpost.toml", env={"COLUMNS": columns})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= int(columns)
    for draft_id in ids:
        assert re.search(rf"(^|\s){draft_id}\s", result.stdout), result.stdout
    assert "…" not in "".join(line.split()[0] for line in lines[1:])
    assert "IMG_0001" in result.stdout


def test_show_preview_draws_the_posted_copy(home: Path, store) -> None:
    draft_id = add(store, 7, "IMG_0412.HEIC", ["Blanket day"])

    result = run_cli("drafts", "show", str(draft_id), "--preview", config=home / "pawpost.toml",
                     env={"COLUMNS": "80"})

    assert result.returncode == 0, result.stderr
    assert "file:    IMG_0412.HEIC (taken 2026-11-20 08:15)" in result.stdout
    assert "posted copy: " in result.stdout and "/prepared/cache/" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "▀" in line]
    assert len(rows) >= 10  # the photo's own colour (40, 120, 200 before JPEG), in true-colour half-blocks
    assert re.search(r"\x1b\[38;2;(39|40|41);(119|120|121);(199|200|201)", result.stdout)
    shown = json.loads(run_cli("drafts", "show", str(draft_id), "--json", config=home / "pawpost.toml").stdout)
    assert shown["source_name"] == "IMG_0412.HEIC" and shown["prepared"].endswith(".jpg")


def test_open_without_a_display_says_so_and_prints_the_review_url(home: Path, store) -> None:
    draft_id = add(store, 8, "IMG_0413.HEIC", ["Rainy"])

    result = run_cli("drafts", "show", str(draft_id), "--open", config=home / "pawpost.toml",
                     env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})

    assert result.returncode == 0, result.stderr
    assert "no display to open the photo on" in result.stderr and "pawpost web" in result.stderr
    assert "http://127.0.0.1:8686/drafts/8" in result.stdout


def test_edit_shows_candidates_pets_and_rules_as_ignored_lines(home: Path, store, tmp_path: Path) -> None:
    draft_id = add(store, 9, "IMG_0500.HEIC", ["First idea #chihuahua", "Second idea"])
    seen = tmp_path / "seen.txt"
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1]); text = p.read_text()\n"
        f"pathlib.Path({str(seen)!r}).write_text(text)\n"
        "p.write_text('Lola owns the sofa now\\n' + text[text.index('\\n'):])\n")

    result = run_cli("drafts", "edit", str(draft_id), config=home / "pawpost.toml",
                     env={"EDITOR": f"{sys.executable} {editor}"})

    assert result.returncode == 0, result.stderr
    opened = seen.read_text()
    assert opened.startswith("First idea #chihuahua\n") and SCISSORS in opened
    assert "#  [2] Second idea" in opened and "IMG_0500.HEIC" in opened and "5 hashtags" in opened
    row = store.draft(draft_id)
    assert row["caption"] == "Lola owns the sofa now" and row["edited"] == 1


def test_the_editor_falls_back_to_the_systems_editors() -> None:
    assert pick_editor({"EDITOR": "micro"}, lambda name: None) == "micro"
    assert pick_editor({}, lambda name: f"/usr/bin/{name}" if name == "nano" else None) == "/usr/bin/nano"
    assert pick_editor({"EDITOR": " "}, lambda name: "/usr/bin/vi" if name == "vi" else None) == "/usr/bin/vi"
    with pytest.raises(PawpostError, match="no editor found"):
        pick_editor({}, lambda name: None)
    assert caption_from_editor(f"Keep #this\n\n{SCISSORS}\n# ignored\nalso ignored\n") == "Keep #this"


def test_review_walks_the_pending_drafts(home: Path, store) -> None:
    from bot.cli import cli

    first = add(store, 11, "a.jpg", ["one", "two", "three"])
    second = add(store, 12, "b.jpg", ["meh"])
    third = add(store, 13, "c.jpg", ["later"])
    add(store, 14, "d.jpg", ["done"], status="approved")

    # A terminal (FORCE_COLOR): on a pipe the loop draws nothing.
    result = CliRunner().invoke(cli, ["--config", str(home / "pawpost.toml"), "drafts", "review"],
                                input="2\nr\nblurry\ns\n", env={"FORCE_COLOR": "1"})

    assert result.exit_code == 0, result.output
    assert "1/3  draft 11" in result.output and "▀" in result.output  # each draft with its photo
    assert (store.draft(first)["status"], store.draft(first)["caption"]) == ("approved", "two")
    assert (store.draft(second)["status"], store.draft(second)["reject_reason"]) == ("rejected", "blurry")
    assert store.draft(third)["status"] == "pending"
    assert "1 approved, 1 rejected, 1 skipped" in result.output


def test_review_says_what_went_wrong_and_asks_again(home: Path, store) -> None:
    from bot.cli import cli

    draft_id = add(store, 21, "a.jpg", ["one", "two"])

    result = CliRunner().invoke(cli, ["--config", str(home / "pawpost.toml"), "drafts", "review", "--no-preview"],
                                input="7\nx\nq\n")

    assert result.exit_code == 0, result.output
    assert "--candidate must be 1 to 2" in result.output and "'x'?" in result.output
    assert store.draft(draft_id)["status"] == "pending"
    assert "0 approved, 0 rejected, 1 skipped" in result.output


def test_list_json_has_the_original_file_name(home: Path, store) -> None:
    add(store, 11, "holiday/IMG_0777.HEIC", ["Beach day"])

    result = run_cli("drafts", "list", "--json", config=home / "pawpost.toml")

    assert result.returncode == 0, result.stderr
    [item] = json.loads(result.stdout)
    assert item["source_name"] == "holiday/IMG_0777.HEIC"
