"""The one rule of posting, as one table: what is *known* about a failed step decides what happens next.

Every publisher reports a failed step as `Evidence` (was the request sent at all? did the answer's body state a
known refusal?), read by answers.py (instagrapi) or graph_answers.py (the official API, by error code and subcode).
`decide` reads the table; nothing else decides.

    outcome    when                                            CREATE (configure,    UPLOAD, READ   COMMENT
                                                               media_publish)
    not sent   the request provably never reached the server   retry later           retry later    retry later
               (DNS, refused connection, connect timeout, TLS)
    refused    the answer's body is a known refusal (the       the refusal's kind    same           same
               publisher's `read_refusal`): nothing was done   decides (see below)
    unknown    anything else: read timeout, 408, 5xx, an       UNSETTLED: never      retry later    look for it,
               unreadable or unexpected answer, a reset after  re-sent by itself                    then retry
               sending, a crash

A status code alone never decides; the body does. Only the step that creates the post can leave a draft unsettled:
an upload cannot have posted anything, and a comment is looked for before it is added again.

A refusal's kind: BAD_CONTENT fails the draft (the owner may fix and approve it again); COOLDOWN pauses posting;
FATAL stops posting until `pawpost login`; REAUTH gets one re-login, then stops; TRANSIENT retries later. Only
BAD_CONTENT touches the draft: account-level refusals leave it `approved`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # not sent, unknown outcome of a step that cannot post, "try again": retry with backoff
    COOLDOWN = "cooldown"  # rate limit, feedback required, please wait: pause all posting for hours
    REAUTH = "reauth"  # session expired: one re-login with the saved device, then stop
    FATAL = "fatal"  # challenge, checkpoint, 2FA, bad password, suspended: stop until `pawpost login`
    BAD_CONTENT = "bad_content"  # this photo or caption was refused: the draft fails (the owner may fix it)


class Step(StrEnum):
    """A publishing step, by what it can do to the account."""

    UPLOAD = "upload"  # sends the photo (rupload_igphoto; Graph: the media container): cannot make a post
    CREATE = "create"  # makes the post (media/configure; Graph: media_publish)
    COMMENT = "comment"  # the first comment on a post that exists
    READ = "read"  # feed, comments, login: changes nothing on the account


class Outcome(StrEnum):
    NOT_SENT = "not_sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


class Move(StrEnum):
    """What the poster does with a failed step."""

    RETRY = "retry"  # the draft stays (or goes back to) approved and is tried again after a backoff
    REFUSED = "refused"  # approved again (failed for BAD_CONTENT); the kind decides cooldown or stop
    UNSETTLED = "unsettled"  # stays `publishing`; settled from the account's feed or by `pawpost drafts resend`
    LOOK_FIRST = "look_first"  # a comment: look for it on the post before adding it again


@dataclass(frozen=True)
class Refusal:
    """A publisher's reading of an answer's body: the action was not done, and why."""

    kind: ErrorKind
    reason: str  # the server's own words, for the owner
    advice: str = ""  # what the owner does (FATAL: which command), '' for the kind's default


@dataclass(frozen=True)
class Evidence:
    """What is known about one failed step, in terms any publisher can state."""

    sent: bool  # False only when the request provably never reached the server
    refusal: Refusal | None = None  # the answer's body, read as a known refusal; None: no answer or unknown body


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    move: Move
    kind: ErrorKind


def outcome_of(evidence: Evidence) -> Outcome:
    if not evidence.sent:
        return Outcome.NOT_SENT
    if evidence.refusal is not None:
        return Outcome.REFUSED
    return Outcome.UNKNOWN


# The unknown row, by step: the only place where a step's power over the account matters.
_UNKNOWN_MOVE = {Step.CREATE: Move.UNSETTLED, Step.UPLOAD: Move.RETRY, Step.READ: Move.RETRY,
                 Step.COMMENT: Move.LOOK_FIRST}


def decide(step: Step, evidence: Evidence) -> Decision:
    """The table above, for one failed step."""
    outcome = outcome_of(evidence)
    if outcome == Outcome.NOT_SENT:
        return Decision(outcome, Move.RETRY, ErrorKind.TRANSIENT)
    if outcome == Outcome.REFUSED:
        assert evidence.refusal is not None
        kind = evidence.refusal.kind
        return Decision(outcome, Move.RETRY if kind == ErrorKind.TRANSIENT else Move.REFUSED, kind)
    return Decision(outcome, _UNKNOWN_MOVE[Step(step)], ErrorKind.TRANSIENT)
