"""Logging for the daemon: one line per event on stderr, journald-friendly, secrets redacted.

Under journald (JOURNAL_STREAM names our stderr) lines carry a `<N>` syslog priority and no timestamp.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable
from typing import Any, TextIO

from bot.controls import shown

# Libraries that are chatty at INFO, or that could log request bodies (cookies, passwords) at DEBUG. A module that
# brings in another such library adds its loggers with `quiet` when it is imported.
QUIET = ["urllib3", "requests", "httpx", "httpcore", "watchdog", "PIL", "filelock", "asyncio", "apscheduler",
         "huggingface_hub", "fsspec"]
_quiet_level: int | None = None  # set by `setup`; until then the loggers keep their own level

# Shapes that carry credentials, whatever library wrote them: the one list for logs and stored error messages.
_KEYS = (r"(?:sessionid|csrftoken|ds_user_id|password|enc_password|authorization|totp_seed|rur|shbid|shbts|mid)")
# key, then its separator as a header, cookie, query, JSON (escaped too) or Python dict writes it
_KEY_SEP = _KEYS + r"\b(\\*[\"']?\s*[:=]\s*)"
_SECRET_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # quoted values ("sessionid": "x", {'password': 'a b c'}, \"sessionid\": \"x\") are masked up to their quote
    (re.compile(r"(?i)\b(" + _KEY_SEP + r")(\\*[\"'])(.*?)\3"), r"\1\3***\3"),
    # bare values (sessionid=x; Authorization: Bearer IGT:2:x) up to the next separator
    (re.compile(r"(?i)\b(" + _KEY_SEP + r")(?!\\*[\"'])(?:Bearer\s+)?[^\s\"'\\&;,}\]]+"), r"\1***"),
    # a bearer token anywhere else
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9:+/=_.%-]{16,}"), r"\1***"),
    # Instagram's encrypted password, wherever it is quoted
    (re.compile(r"#PWD_INSTAGRAM[^\"'&\s]*"), "#PWD_***"),
    # credentials in a URL (a proxy): scheme://user:***@host
    (re.compile(r"(://[^/\s:@\"']+:)[^/\s@\"']+@"), r"\1***@"),
]

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def under_journald(stream: TextIO | None = None) -> bool:
    """Whether `stream` (stderr) is connected to the journal, as sd_journal_stream_fd documents."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    stream = stream or sys.stderr
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class LineFormatter(logging.Formatter):
    """`2026-11-22T19:04:00Z INFO bot.pipeline: photo 12: analyzed` — or `<6>bot.pipeline: ...` for journald."""

    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        # A file name or a hint in a message must not drive the terminal `pawpost run` logs to.
        message = shown(record.getMessage())
        if record.exc_info:
            # A bug: keep the traceback, it is what the log is for.
            message += "\n" + self.formatException(record.exc_info)
        if self.journald:
            prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
            # journald reads each line on its own: give every line of a traceback the record's priority.
            return "\n".join(f"{prefix}{record.name}: {line}" for line in message.splitlines() or [""])
        when = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        return f"{when}Z {record.levelname} {record.name}: {message}"

    converter = time.gmtime  # UTC, like everything pawpost stores


class RedactSecrets(logging.Filter):
    """Replaces known secret values (and credential-shaped key=value pairs) in every record with ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self._configured: set[str] = set()
        self._learned: set[str] = set()  # session cookies and tokens, known once a client has them

    def set_secrets(self, values: Iterable[str | None]) -> None:
        """The configured secrets (replaced on a config reload)."""
        self._configured = {v for v in values if v and len(v) >= 4}
        self._sort()

    def remember(self, values: Iterable[str | None]) -> None:
        """Secrets learned while running (session id, authorization header): kept for the process's life."""
        self._learned.update(v for v in values if v and len(v) >= 4)
        self._sort()

    def _sort(self) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted(self._configured | self._learned, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record (it also sits on libraries' loggers) is logged as it is
            return True
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                # The traceback would print the exception's message: keep the type, drop the secret.
                record.exc_info = None
                record.msg, record.args = f"{record.getMessage()} ({text})", None
        return True


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret values and every credential shape (cookies, tokens, passwords) masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, repl in _SECRET_SHAPES:
        text = pattern.sub(repl, text)
    return text


_redactor = RedactSecrets()


def redactor() -> RedactSecrets:
    """The process's one filter: on the log handler, and on libraries' loggers that other handlers may read."""
    return _redactor


def known_secrets() -> list[str]:
    """The secret values known so far (configured and learned), for messages that are stored, not logged."""
    return list(_redactor.secrets)


def quiet(*names: str) -> None:
    """Log these loggers at WARNING and above only (everything at -vvv), as `setup` does for QUIET's."""
    for name in names:
        if name not in QUIET:
            QUIET.append(name)
        if _quiet_level is not None:
            logging.getLogger(name).setLevel(_quiet_level)


def remember_secrets(*values: str | None) -> None:
    _redactor.remember(values)


def setup(verbose: int = 0, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to stderr (or `stream`), one line each: INFO by default, DEBUG with -vv."""
    stream = stream or sys.stderr
    # Progress bars (model downloads and loading) are terminal animations, not log lines.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter(under_journald(stream)))
    handler.addFilter(_redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    global _quiet_level
    _quiet_level = logging.DEBUG if verbose >= 3 else logging.WARNING
    for name in QUIET:
        logging.getLogger(name).setLevel(_quiet_level)
    # Library warnings become log records too (one line, with a priority), not raw text on stderr.
    capture_warnings()
    return handler


# Deprecation notices (transformers' FutureWarnings, say): about library internals, nothing the owner can act on.
NOTICES = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)
_show_original = warnings.showwarning


def capture_warnings() -> None:
    """Python warnings become records of the `py.warnings` logger: deprecation notices at DEBUG (shown with
    -vv only), every other warning at WARNING. The daemon's log and the CLI's stderr stay free of the notices."""
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    if file is not None:  # a caller that asked for a particular file gets it there
        _show_original(message, category, filename, lineno, file, line)
        return
    level = logging.DEBUG if issubclass(category, NOTICES) else logging.WARNING
    logger = logging.getLogger("py.warnings")
    if logger.isEnabledFor(level):
        text = warnings.formatwarning(message, category, filename, lineno, line).strip()
        logger.log(level, "%s", text)


def protect_secrets(config: Any) -> None:
    """Redact the configured secrets (password, TOTP seed, proxy URL) from every log line from now on."""
    ig = config.instagram
    values: list[str | None] = []
    for read in (ig.secret_password, ig.secret_totp_seed):
        try:
            values.append(read())
        except Exception:  # an unreadable secret file is reported elsewhere; nothing to redact then
            pass
    if ig.proxy is not None:
        values.append(ig.proxy.get_secret_value())
    _redactor.set_secrets(values)
