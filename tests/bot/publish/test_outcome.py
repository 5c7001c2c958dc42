"""The one table (bot.publish.outcome), row by row, and how Instagram's answers are read into it (instagrapi's
answers.py, bot.publish.transport).

These are the pure parts; tests/bot/publish/test_faults.py drives every row through the real client over HTTP.
"""

from __future__ import annotations

import pytest

from bot.publish.outcome import ErrorKind, Evidence, Move, Outcome, Refusal, Step, decide
from bot.publish.publishers.instagrapi.answers import read_refusal
from bot.publish.transport import never_sent
from tests.bot.publish.fake_answers import after_send as _after_send
from tests.bot.publish.fake_answers import before_send as _before_send
from tests.bot.publish.fake_instagram import (
    CHALLENGE,
    FEEDBACK_REQUIRED,
    LOGIN_REQUIRED,
    SERVER_ERROR,
    TOO_MANY,
)

REFUSAL = Refusal(ErrorKind.COOLDOWN, "feedback_required")


@pytest.mark.parametrize(("step", "evidence", "outcome", "move"), [
    (Step.CREATE, Evidence(sent=False), Outcome.NOT_SENT, Move.RETRY),
    (Step.UPLOAD, Evidence(sent=False), Outcome.NOT_SENT, Move.RETRY),
    (Step.COMMENT, Evidence(sent=False), Outcome.NOT_SENT, Move.RETRY),
    (Step.CREATE, Evidence(sent=True, refusal=REFUSAL), Outcome.REFUSED, Move.REFUSED),
    (Step.UPLOAD, Evidence(sent=True, refusal=REFUSAL), Outcome.REFUSED, Move.REFUSED),
    (Step.COMMENT, Evidence(sent=True, refusal=REFUSAL), Outcome.REFUSED, Move.REFUSED),
    (Step.CREATE, Evidence(sent=True), Outcome.UNKNOWN, Move.UNSETTLED),
    (Step.UPLOAD, Evidence(sent=True), Outcome.UNKNOWN, Move.RETRY),
    (Step.COMMENT, Evidence(sent=True), Outcome.UNKNOWN, Move.LOOK_FIRST),
    (Step.READ, Evidence(sent=True), Outcome.UNKNOWN, Move.RETRY),
])
def test_every_row_of_the_table(step, evidence, outcome, move):
    decision = decide(step, evidence)

    assert (decision.outcome, decision.move) == (outcome, move)


def test_a_refusal_that_says_try_later_is_a_retry_and_only_unknown_creates_are_unsettled():
    later = Evidence(sent=True, refusal=Refusal(ErrorKind.TRANSIENT, "Transcode not finished yet."))

    assert decide(Step.CREATE, later).move == Move.RETRY
    assert [s for s in Step if decide(s, Evidence(sent=True)).move == Move.UNSETTLED] == [Step.CREATE]


@pytest.mark.parametrize(("status", "body", "kind"), [
    (*CHALLENGE, ErrorKind.FATAL),
    (400, {"message": "checkpoint_required", "checkpoint_url": "https://i.instagram.com/challenge/", "status": "fail"},
     ErrorKind.FATAL),
    (400, {"message": "challenge_required", "challenge": {"url": "https://i.instagram.com/accounts/suspended/"},
           "status": "fail"}, ErrorKind.FATAL),
    (400, {"message": "", "two_factor_info": {"username": "lola"}, "status": "fail"}, ErrorKind.FATAL),
    (400, {"message": "The password you entered is incorrect.", "error_type": "bad_password", "status": "fail"},
     ErrorKind.FATAL),
    (*LOGIN_REQUIRED, ErrorKind.REAUTH),
    (*FEEDBACK_REQUIRED, ErrorKind.COOLDOWN),
    (*TOO_MANY, ErrorKind.COOLDOWN),
    (429, {"message": "rate limited", "status": "fail"}, ErrorKind.COOLDOWN),
    (400, {"message": "", "error_type": "rate_limit_error", "status": "fail"}, ErrorKind.COOLDOWN),
    (200, {"message": "feedback_required", "feedback_message": "Try again later", "status": "fail"},
     ErrorKind.COOLDOWN),
    (400, {"message": "media_needs_reupload", "error_title": "bad image input extra:{}", "status": "fail"},
     ErrorKind.BAD_CONTENT),
    (400, {"message": "Uploaded image isn't in the right format", "status": "fail"}, ErrorKind.BAD_CONTENT),
    (202, {"message": "Transcode not finished yet.", "status": "fail"}, ErrorKind.TRANSIENT),
])
def test_known_refusals_are_read_from_the_body(status, body, kind):
    refusal = read_refusal(status, body)

    assert refusal is not None and refusal.kind == kind


@pytest.mark.parametrize(("status", "body"), [
    SERVER_ERROR,  # a 5xx with a JSON body: not a statement that nothing was done
    (408, ""),
    (408, {"message": "Request Timeout", "status": "fail"}),
    (429, ""),  # a status code alone never decides
    (400, {"message": "something Instagram never said before", "status": "fail"}),
    (400, b"<html>Bad Request</html>"),
    (200, {"status": "ok"}),
    (200, b"not json"),
    (403, ""),
])
def test_everything_else_is_no_refusal(status, body):
    assert read_refusal(status, body) is None


@pytest.mark.parametrize("how", ["dns", "refused", "tls", "connect_timeout"])
def test_failures_before_the_request_left_are_never_sent(how):
    from instagrapi.exceptions import ClientConnectionError

    err = _before_send(how)
    try:  # as instagrapi re-raises it, with the transport's error as its context
        try:
            raise err
        except Exception as inner:
            raise ClientConnectionError(f"{type(inner).__name__} {inner}") from None
    except ClientConnectionError as wrapped:
        wrapped.__context__ = err
        assert never_sent(wrapped)
    assert never_sent(err)


@pytest.mark.parametrize("how", ["timeout", "reset"])
def test_failures_after_sending_may_have_been_sent(how):
    assert not never_sent(_after_send(how))
    assert not never_sent(RuntimeError("a bug between request and answer"))
