"""A draft changed while its editor was open (approved or edited elsewhere) is never saved over silently: the CLI
asks (overwrite, keep theirs, re-edit), refuses in one line without a terminal, and the review page shows both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bot.drafts.actions import approve, get_draft
from tests.bot.web.conftest import add_draft, form_token
from tests.conftest import REPO, run_cli


def _editor_that_approves_meanwhile(tmp_path: Path, config: Path, draft_id: int, caption: str | None = None) -> str:
    """An $EDITOR that, while 'editing', has the draft approved through the CLI (as the page or another terminal
    would), then saves the owner's new caption."""
    script = tmp_path / "editor.py"
    also = ["--caption", caption] if caption else []
    script.write_text(
        "import pathlib, subprocess, sys\n"
        f"subprocess.run([sys.executable, '-m', 'bot', '--config', {str(config)!r}, 'drafts', 'approve', "
        f"{str(draft_id)!r}, *{also!r}], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)\n"
        "p = pathlib.Path(sys.argv[1]); text = p.read_text()\n"
        "p.write_text('Mine: Lola owns the sofa now\\n' + text[text.index('\\n'):])\n")
    return f"{sys.executable} {script}"


def test_without_a_terminal_the_edit_is_refused_and_the_text_printed(web_home: Path, web_store, tmp_path) -> None:
    draft_id = add_draft(web_store, ["Theirs: blanket day"])
    cfg = web_home / "pawpost.toml"

    result = run_cli("drafts", "edit", str(draft_id), config=cfg,
                     env={"EDITOR": _editor_that_approves_meanwhile(tmp_path, cfg, draft_id)})

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f"draft {draft_id} changed since you opened it (it is approved now" in line and "not saved" in line
    assert "Mine: Lola owns the sofa now" in result.stdout  # the owner's text is not lost
    view = get_draft(web_store, draft_id)
    assert view.status == "approved" and view.caption == "Theirs: blanket day"


def _edit_on_a_terminal(cfg: Path, draft_id: int, editor: str, answer: str) -> tuple[int, str]:
    """`drafts edit` with a terminal on stdin, answering the prompt with `answer`."""
    master, slave = os.openpty()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PAWPOST_")}, "EDITOR": editor}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(cfg), "drafts", "edit", str(draft_id)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    os.close(slave)
    os.write(master, answer.encode() + b"\n")  # the terminal holds the typed answer until the prompt reads it
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
    return proc.returncode, out.decode()


def test_on_a_terminal_the_owner_is_asked_and_may_overwrite(web_home: Path, web_store, tmp_path) -> None:
    draft_id = add_draft(web_store, ["Theirs: blanket day"])
    cfg = web_home / "pawpost.toml"

    rc, out = _edit_on_a_terminal(cfg, draft_id, _editor_that_approves_meanwhile(tmp_path, cfg, draft_id), "o")

    assert rc == 0, out
    assert "changed meanwhile: it is approved now" in out and "[o]verwrite with yours, [k]eep theirs" in out
    view = get_draft(web_store, draft_id)
    assert view.status == "approved" and view.caption == "Mine: Lola owns the sofa now"


def test_on_a_terminal_the_owner_may_keep_theirs(web_home: Path, web_store, tmp_path) -> None:
    draft_id = add_draft(web_store, ["Theirs: blanket day"])
    cfg = web_home / "pawpost.toml"
    editor = _editor_that_approves_meanwhile(tmp_path, cfg, draft_id, caption="Theirs, edited on the page")

    rc, out = _edit_on_a_terminal(cfg, draft_id, editor, "k")

    assert rc == 0, out
    assert "kept as it is now" in out
    assert get_draft(web_store, draft_id).caption.startswith("Theirs, edited on the page")  # (hashtags added)


def test_the_page_shows_both_texts_and_saves_nothing(client, web_store, web_config) -> None:
    draft_id = add_draft(web_store, ["Theirs: blanket day"])
    page = client.get(f"/drafts/{draft_id}").text
    version = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    time.sleep(1.1)  # the edit elsewhere lands in a later second than the page was made in
    approve(web_store, web_config, draft_id, caption="Approved in a terminal meanwhile", add_hashtags=False)

    refused = client.post(f"/drafts/{draft_id}/caption", data={
        "csrf": form_token(client), "version": version, "caption": "Mine, typed on the page"})

    assert refused.status_code == 409
    assert "changed meanwhile" in refused.text
    assert "Approved in a terminal meanwhile" in refused.text and "Mine, typed on the page" in refused.text
    assert get_draft(web_store, draft_id).caption == "Approved in a terminal meanwhile"
    # The same form from a fresh page saves.
    fresh = re.search(r'name="version" value="([0-9a-f]+)"', client.get(f"/drafts/{draft_id}").text).group(1)
    saved = client.post(f"/drafts/{draft_id}/caption", data={
        "csrf": form_token(client), "version": fresh, "caption": "Mine, typed on the page"})
    assert saved.status_code == 200 and get_draft(web_store, draft_id).caption == "Mine, typed on the page"


def test_on_a_terminal_the_owner_may_edit_again_seeing_both(web_home: Path, web_store, tmp_path) -> None:
    draft_id = add_draft(web_store, ["Theirs: blanket day"])
    cfg = web_home / "pawpost.toml"
    seen = tmp_path / "second.txt"
    script = tmp_path / "editor.py"
    script.write_text(
        "import pathlib, subprocess, sys\n"
        f"seen = pathlib.Path({str(seen)!r})\n"
        "p = pathlib.Path(sys.argv[1]); text = p.read_text()\n"
        "if seen.with_suffix('.first').exists():\n"
        "    seen.write_text(text)\n"
        "    p.write_text('Mine, after seeing theirs\\n' + text[text.index('\\n\\n'):])\n"
        "else:\n"
        "    seen.with_suffix('.first').write_text('x')\n"
        f"    subprocess.run([sys.executable, '-m', 'bot', '--config', {str(cfg)!r}, 'drafts', 'approve', "
        f"{str(draft_id)!r}, '--caption', 'Theirs, edited'], check=True, stdin=subprocess.DEVNULL, "
        "stdout=subprocess.DEVNULL)\n"
        "    p.write_text('Mine: Lola owns the sofa now\\n' + text[text.index('\\n'):])\n")

    rc, out = _edit_on_a_terminal(cfg, draft_id, f"{sys.executable} {script}", "r")

    assert rc == 0, out
    second = seen.read_text()
    assert "Mine: Lola owns the sofa now" in second and "#   Theirs, edited" in second
    assert get_draft(web_store, draft_id).caption == "Mine, after seeing theirs"
