"""bot/logs.py: one line per record, journald priorities when stderr is the journal, secrets never written."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from bot.logs import protect_secrets, redact, setup, under_journald


@pytest.fixture
def logfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = (tmp_path / "log.txt").open("w")
    yield stream, tmp_path / "log.txt"
    stream.close()
    root.handlers[:], root.level = saved
    logging.captureWarnings(False)
    from bot import logs

    logs._redactor.set_secrets([])


def written(stream: Any, path: Path) -> list[str]:
    stream.flush()
    return path.read_text().splitlines()


def test_plain_lines_carry_a_utc_timestamp_and_the_level(logfile: Any) -> None:
    stream, path = logfile
    setup(0, stream)
    logging.getLogger("bot.daemon.supervisor").info("photo %d: analyzed", 12)
    logging.getLogger("bot.daemon.supervisor").debug("not shown at the default level")
    (line,) = written(stream, path)
    assert line.endswith(" INFO bot.daemon.supervisor: photo 12: analyzed")
    assert line[:20].endswith("Z") and line[10] == "T"


def test_a_stored_name_with_an_escape_sequence_is_logged_neutralised(logfile: Any) -> None:
    stream, path = logfile
    setup(0, stream)
    logging.getLogger("bot.ingest.intake").warning("photo %s: quarantined", "IMG_1\x1b[2J\x9b.jpg")
    (line,) = written(stream, path)
    assert line.endswith("photo IMG_1\\x1b[2J\\x9b.jpg: quarantined") and "\x1b" not in line


def test_under_journald_each_line_has_a_priority_and_no_timestamp(logfile: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    stream, path = logfile
    st = os.fstat(stream.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    assert under_journald(stream)
    setup(0, stream)
    log = logging.getLogger("bot.publish")
    log.warning("draft 3: cooldown")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("tick failed")
    lines = written(stream, path)
    assert lines[0] == "<4>bot.publish: draft 3: cooldown"
    # A traceback spans lines; every one keeps the error priority so journald files them together.
    assert lines[1] == "<3>bot.publish: tick failed"
    assert all(line.startswith("<3>bot.publish: ") for line in lines[2:]) and "ValueError: boom" in lines[-1]


def test_journal_stream_of_another_file_is_not_the_journal(logfile: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stream, _ = logfile
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert not under_journald(stream)


def test_configured_secrets_are_redacted_everywhere(logfile: Any, config: Any, tmp_path: Path) -> None:
    stream, path = logfile
    secret_file = tmp_path / "pw"
    secret_file.write_text("correct-horse-battery\n")
    config.instagram.password_file = secret_file
    setup(0, stream)
    protect_secrets(config)
    log = logging.getLogger("instagrapi.like")  # any logger: the filter sits on the handler
    log.warning("login with %s failed", "correct-horse-battery")
    logging.getLogger("bot.x").error("request body: username=lola&enc_password=#PWD:1:abc&x=1 sessionid=987")
    try:
        raise RuntimeError("bad password correct-horse-battery")
    except RuntimeError:
        logging.getLogger("bot.x").exception("login")
    stream.flush()
    text = path.read_text()
    assert "correct-horse-battery" not in text and "987" not in text and "#PWD:1:abc" not in text
    assert "login with *** failed" in text and "sessionid=***" in text


def test_tokens_cookies_and_proxy_credentials_are_redacted_in_every_shape(logfile: Any, config: Any) -> None:
    from pydantic import SecretStr

    stream, path = logfile
    config.instagram.proxy = SecretStr("http://lola:pr0xy-Pa55@proxy.example:3128")
    setup(0, stream)
    protect_secrets(config)
    log = logging.getLogger("bot.x")
    log.warning("request headers: Authorization: Bearer IGT:2:eyJzZXNzaW9uaWQiOiI0MjQyJTNBYWJjIn0=")
    log.warning("cookies %s", {"sessionid": "4242%3Aabcdef0123", "csrftoken": "csrf-value-9", "ds_user_id": "4242"})
    log.warning('answer {"password": "tail of a long pass phrase", "status": "fail"}')
    log.warning("connecting through socks5://lola:other-Pa55@10.0.0.2:1080 (proxy.example:3128)")
    text = "\n".join(written(stream, path))

    for secret in ("eyJzZXNzaW9uaWQ", "abcdef0123", "csrf-value-9", "pass phrase", "pr0xy-Pa55", "other-Pa55"):
        assert secret not in text
    assert "Authorization: ***" in text and "socks5://lola:***@10.0.0.2:1080" in text


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("photo 3: new -> analyzed", ["s3cret"]) == "photo 3: new -> analyzed"
    assert redact("password: s3cret", ["s3cret"]) == "password: ***"
