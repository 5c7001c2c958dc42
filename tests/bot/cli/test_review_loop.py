"""`pawpost drafts review` offers a time, the pets and new candidates beside approve/reject, says the exact time an
approval goes out, shows each photo's alt text, fits its drawing in the terminal and draws nothing on a pipe."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from bot import timeutil
from bot.cli.preview import fit_columns
from tests.bot.cli.test_drafts_review import add
from tests.bot.cli.test_pets_caption import _draft_about_lola
from tests.conftest import run_cli

EXACT = r"it goes out at \d{4}-\d\d-\d\d \d\d:\d\d \(UTC\)"


def review(home: Path, answers: str, env: dict[str, str] | None = None, *args: str):
    from bot.cli import cli

    return CliRunner().invoke(cli, ["--config", str(home / "pawpost.toml"), "drafts", "review", *args],
                              input=answers, env=env or {})


def test_an_approval_says_the_exact_time_it_goes_out(home: Path, store) -> None:
    first = add(store, 31, "a.jpg", ["one", "two"])
    second = add(store, 32, "b.jpg", ["three", "four"])

    result = review(home, "a\n2\n", None, "--no-preview")

    assert result.exit_code == 0, result.output
    assert re.search(rf"draft {first} approved; {EXACT}", result.output), result.output
    assert re.search(rf"draft {second} approved with candidate 2; {EXACT}", result.output), result.output
    assert store.draft(first)["status"] == store.draft(second)["status"] == "approved"


def test_a_time_asked_in_the_loop_is_the_time_it_goes_out(home: Path, store) -> None:
    draft_id = add(store, 33, "a.jpg", ["one"])
    at = (timeutil.now() + timedelta(days=3)).strftime("%Y-%m-%d") + " 17:45"

    result = review(home, f"t\nyesterday at 5pm\nt\n{at}\n", None, "--no-preview")

    assert result.exit_code == 0, result.output
    assert "YYYY-MM-DD HH:MM" in result.output  # the wrong time is said, and asked again
    assert f"draft {draft_id} approved; it goes out at {at} (UTC)" in result.output
    assert store.draft(draft_id)["scheduled_for"].startswith(at.replace(" ", "T"))


def test_the_pets_are_corrected_from_the_loop_and_the_caption_follows(home: Path, store, config) -> None:
    caption = "Lola on patrol #lolathechihuahua"
    draft_id = _draft_about_lola(store, config, caption, [caption])

    result = review(home, "p\nPico\ns\n", None, "--no-preview")

    assert result.exit_code == 0, result.output
    assert "pets set to Pico" in result.output and "caption fixed for the pets" in result.output
    assert store.draft(draft_id)["caption"] == "Pico on patrol #picothechi"
    assert "(Pico set by you)" in result.output  # shown again, with the new pets


def test_the_loop_shows_each_photo_s_alt_text(home: Path, store) -> None:
    from bot.drafts.media import update_medium

    draft_id = add(store, 34, "a.jpg", ["one"])
    update_medium(store, draft_id, 0, alt_text="A fawn chihuahua asleep under a red blanket.")

    result = review(home, "s\n", None, "--no-preview")

    assert "alt: A fawn chihuahua asleep under a red blanket." in result.output


def test_on_a_pipe_nothing_is_drawn_and_no_colour_codes_are_sent(home: Path, store) -> None:
    add(store, 35, "a.jpg", ["one"])
    store.close()

    piped = run_cli("drafts", "review", config=home / "pawpost.toml", input="s\n")
    no_color = review(home, "s\n", {"FORCE_COLOR": "1", "NO_COLOR": "1", "COLUMNS": "80", "LINES": "40"})

    assert piped.returncode == 0, piped.stderr
    assert "\x1b[" not in piped.stdout and "▀" not in piped.stdout
    assert "photos not drawn here" in piped.stdout
    assert "▀" not in no_color.output and "photos not drawn here" in no_color.output


def test_the_drawing_fits_the_terminal(home: Path, store) -> None:
    add(store, 36, "a.jpg", ["one", "two", "three"])  # a 9:16 photo, posted as 4:5

    result = review(home, "s\n", {"FORCE_COLOR": "1", "COLUMNS": "100", "LINES": "30"})

    assert result.exit_code == 0, result.output
    drawn = [line for line in result.output.splitlines() if "▀" in line]
    assert 4 <= len(drawn) <= 30 - 8 - 3  # the header, alt text, caption, candidates and prompt stay on screen
    assert fit_columns((900, 1125), 100, None) == 60 and fit_columns((900, 1125), 40, None) == 40
    assert fit_columns((900, 1125), 100, 30, 11) == 30  # 19 rows free: 30 columns draw 19 rows
