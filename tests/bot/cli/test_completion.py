"""Shell completion as the README sets it up: click's `_PAWPOST_COMPLETE=bash_source pawpost` prints the script,
and the script's own request completes a command."""

from __future__ import annotations

from tests.conftest import run_cli


def test_the_completion_script_is_produced_and_completes(tmp_path):
    for shell in ("bash", "zsh", "fish"):
        script = run_cli(env={"_PAWPOST_COMPLETE": f"{shell}_source"})
        assert script.returncode == 0, script.stderr
        assert "_PAWPOST_COMPLETE" in script.stdout and "pawpost" in script.stdout

    # What the bash script asks when the owner types `pawpost dra<TAB>` and `pawpost drafts un<TAB>`.
    top = run_cli(env={"_PAWPOST_COMPLETE": "bash_complete", "COMP_WORDS": "pawpost dra", "COMP_CWORD": "1"})
    sub = run_cli(env={"_PAWPOST_COMPLETE": "bash_complete", "COMP_WORDS": "pawpost drafts un", "COMP_CWORD": "2"})
    assert top.stdout.split() == ["plain,drafts"], top.stdout + top.stderr
    assert sub.stdout.split() == ["plain,unapprove"], sub.stdout + sub.stderr
