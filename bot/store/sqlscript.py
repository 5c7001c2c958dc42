"""Running a migration's SQL one statement at a time, inside the caller's transaction."""

from __future__ import annotations

import sqlite3


def run_script(db: sqlite3.Connection, sql: str) -> None:
    """Every statement of `sql` in order. Not executescript(): it commits first, and a migration must stay inside
    its own transaction. A trailing statement without its semicolon is refused (ValueError)."""
    statement = ""
    for line in sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:60]}")
