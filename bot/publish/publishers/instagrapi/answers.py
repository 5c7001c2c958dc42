"""Instagram's private API answers read as `Evidence` for the table in bot.publish.outcome.

`read_refusal` knows the bodies that state an action was not done; bot.publish.transport knows the transport errors
that happen before a request leaves this machine. Anything neither recognises is an unknown outcome.
"""

from __future__ import annotations

import json
from typing import Any

from bot.publish.errors import FATAL_ADVICE
from bot.publish.outcome import ErrorKind, Evidence, Refusal
from bot.publish.transport import chain, never_sent

# Account-level refusals, by `message` or `error_type` (lower case): they stop or pause posting, never fail a draft.
_ACCOUNT: dict[str, tuple[ErrorKind, str]] = {
    "login_required": (ErrorKind.REAUTH, ""),
    "user_has_logged_out": (ErrorKind.REAUTH, ""),
    "challenge_required": (ErrorKind.FATAL, FATAL_ADVICE["challenge"]),
    "checkpoint_required": (ErrorKind.FATAL, FATAL_ADVICE["challenge"]),
    "checkpoint_challenge_required": (ErrorKind.FATAL, FATAL_ADVICE["challenge"]),
    "consent_required": (ErrorKind.FATAL, FATAL_ADVICE["challenge"]),
    "two_factor_required": (ErrorKind.FATAL, FATAL_ADVICE["two_factor"]),
    "bad_password": (ErrorKind.FATAL, FATAL_ADVICE["password"]),
    "invalid_user": (ErrorKind.FATAL, FATAL_ADVICE["password"]),
    "inactive user": (ErrorKind.FATAL, FATAL_ADVICE["suspended"]),
    "user_suspended": (ErrorKind.FATAL, FATAL_ADVICE["suspended"]),
    "needs_upgrade": (ErrorKind.FATAL, FATAL_ADVICE["upgrade"]),
    "feedback_required": (ErrorKind.COOLDOWN, ""),
    "rate_limit_error": (ErrorKind.COOLDOWN, ""),
    "sentry_block": (ErrorKind.COOLDOWN, ""),
    "spam": (ErrorKind.COOLDOWN, ""),
}
# Refusals of this photo or caption: the draft fails with Instagram's reason (the owner may fix and approve again).
_CONTENT = (
    "media_needs_reupload",
    "bad image input",
    "uploaded image isn't in the right format",
    "the image you uploaded is too small",
    "photo upload failed: invalid image",
    "caption is too long",
    "caption_too_long",
    "too many hashtags",
    "your post goes against our community guidelines",
)
# "Not yet" answers: nothing was done, and asking again later is right.
_LATER = ("transcode not finished yet", "upload_not_ready")


def read_refusal(status: int | None, body: Any) -> Refusal | None:
    """A known refusal stated by an answer's JSON body, or None (no body, not JSON, or words we do not know)."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    failed = body.get("status") == "fail" or (status is not None and status >= 400) or "error_title" in body
    if not failed:
        return None
    message = str(body.get("message") or "").strip()
    error_type = str(body.get("error_type") or "").strip()
    title = str(body.get("error_title") or "").strip()
    words = {message.lower(), error_type.lower()}
    reason = ": ".join(p for p in (message, title if title != message else "", _feedback(body)) if p) or error_type
    challenge = body.get("challenge") if isinstance(body.get("challenge"), dict) else None
    if challenge is not None and "/suspended/" in str(challenge.get("url") or ""):
        return Refusal(ErrorKind.FATAL, reason, FATAL_ADVICE["suspended"])
    if body.get("two_factor_info"):
        return Refusal(ErrorKind.FATAL, reason or "two-factor code required", FATAL_ADVICE["two_factor"])
    for word in words:
        if word in _ACCOUNT:
            kind, advice = _ACCOUNT[word]
            return Refusal(kind, reason, advice)
    lowered = " ".join(w for w in (message.lower(), title.lower(), error_type.lower()) if w)
    if "please wait a few minutes" in lowered or body.get("spam") is True:
        return Refusal(ErrorKind.COOLDOWN, reason)
    if challenge is not None:
        return Refusal(ErrorKind.FATAL, reason, FATAL_ADVICE["challenge"])
    if any(phrase in lowered for phrase in _LATER):
        return Refusal(ErrorKind.TRANSIENT, reason)
    if any(phrase in lowered for phrase in _CONTENT):
        return Refusal(ErrorKind.BAD_CONTENT, reason)
    if status == 429 and body.get("status") == "fail":
        return Refusal(ErrorKind.COOLDOWN, reason or "too many requests")  # the throttle's own JSON answer
    return None


def says_not_ready(reason: str) -> bool:
    """A refusal that only means "not yet" (a Reel still transcoding): the same request may be sent again soon."""
    lowered = reason.lower()
    return any(phrase in lowered for phrase in _LATER)


def _feedback(body: dict[str, Any]) -> str:
    return str(body.get("feedback_message") or "").strip()


def response_of(exc: BaseException | None, client: Any) -> Any:
    """The HTTP answer behind an error: the exception's own, else the client's last (reset before each step)."""
    for err in chain(exc):
        response = getattr(err, "response", None)
        if response is not None and hasattr(response, "status_code"):
            return response
    return getattr(client, "last_response", None)


def evidence(exc: BaseException | None, client: Any) -> Evidence:
    """What one failed instagrapi call tells: sent or not, and the answer's body read as a refusal."""
    if never_sent(exc):
        return Evidence(sent=False)
    response = response_of(exc, client)
    if response is None:
        return Evidence(sent=True)
    try:
        body: Any = response.content
    except Exception:  # a body that cannot even be read proves nothing
        return Evidence(sent=True)
    return Evidence(sent=True, refusal=read_refusal(response.status_code, body))
