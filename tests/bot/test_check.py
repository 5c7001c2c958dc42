"""bot/check.py: one doctor line, as the text and the JSON of `pawpost doctor` show it."""

from __future__ import annotations

from bot.check import Check


def test_a_check_is_one_json_object_with_its_warning_flag() -> None:
    assert Check("model detector", True, "local folder").to_json() == {
        "name": "model detector", "ok": True, "message": "local folder", "warning": False}
    assert Check("pets", True, "no reference photos", warning=True).to_json()["warning"] is True
