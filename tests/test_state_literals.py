"""Draft states are named constants (bot.store.states.DraftStatus) everywhere but the store and the drafts package:
no module elsewhere spells one as a string, in Python or inside SQL."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from bot.store.states import DraftStatus
from tests.conftest import REPO

STATES = {s.value for s in DraftStatus}
# A state quoted inside a longer string: SQL (`status = 'approved'`), or a message quoting the state's name.
QUOTED = re.compile("'(?:" + "|".join(sorted(STATES)) + ")'")
# A line that uses one of these words for something else (a systemd unit's state) says so in a comment.
NOT_A_STATE = "not a draft state"
OWNERS = ("bot/store/", "bot/drafts/")


def state_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant in `source` that is a draft state, or quotes one; docstrings and
    lines marked NOT_A_STATE aside."""
    tree = ast.parse(source)
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    marked = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
              if tok.type == tokenize.COMMENT and NOT_A_STATE in tok.string}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        lines = set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        if (node.value in STATES or QUOTED.search(node.value)) and not marked & lines:
            found.append((node.lineno, node.value))
    return sorted(found)


def test_the_checker_catches_a_state_in_python_and_in_sql() -> None:
    offender = '''
def due(store, draft):
    """Approved drafts only: docstrings may say 'approved'."""
    if draft["status"] == "approved":
        return store.all("SELECT id FROM drafts WHERE status = 'pending' AND id = ?", (draft["id"],))
    return f"SELECT id FROM drafts WHERE status IN ('posted', '{draft}')"
'''
    assert state_literals(offender) == [(4, "approved"),
                                        (5, "SELECT id FROM drafts WHERE status = 'pending' AND id = ?"),
                                        (6, "SELECT id FROM drafts WHERE status IN ('posted', '")]


def test_the_checker_leaves_words_and_constants_alone() -> None:
    clean = '''
from bot.store.states import DraftStatus

def due(store, draft):
    if draft["status"] == DraftStatus.APPROVED:
        return f"draft {draft['id']} posted: nothing failed, nothing is pending"
    state = "failed"  # systemctl is-active; not a draft state
    return store.all("SELECT id FROM drafts WHERE status = ?", (DraftStatus.PENDING,))
'''
    assert state_literals(clean) == []


def test_no_module_outside_the_store_and_the_drafts_package_spells_a_draft_state() -> None:
    offenders = {}
    for path in sorted([*(REPO / "bot").rglob("*.py"), *(REPO / "training").rglob("*.py")]):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(OWNERS):
            continue
        found = state_literals(path.read_text())
        if found:
            offenders[relative] = found
    assert offenders == {}
