"""Publishing errors: one `PublishError` per failed step, carrying the table's decision (bot.publish.outcome).

Publishers build them from `Evidence` (`step_error`); `classify` covers what no publisher step raised (a login,
our own photo checks), so the poster decides by outcome and kind, never by library.
"""

from __future__ import annotations

from bot.errors import PawpostError
from bot.logs import known_secrets, redact
from bot.publish.outcome import Decision, ErrorKind, Evidence, Move, Outcome, Step, decide

__all__ = ["ADVICE", "FATAL_ADVICE", "BadContent", "ErrorKind", "PublishError", "classify", "step_error"]


class PublishError(PawpostError):
    """A failed step (or login), decided by the table: `outcome` (not sent / refused / unknown), `move` (what the
    poster does), `kind` (what a refusal means). `maybe_posted`: the post may exist (the draft is unsettled)."""

    def __init__(self, kind: ErrorKind, message: str, *, error_class: str = "PublishError", advice: str = "",
                 outcome: Outcome = Outcome.REFUSED, move: Move | None = None, step: Step | None = None) -> None:
        self.kind = ErrorKind(kind)
        # Stored in drafts.error and attempts.error and shown by `status`: masked with the known secret values too.
        self.message = redact(message, known_secrets())
        self.error_class = error_class
        self.outcome = Outcome(outcome)
        self.move = Move(move) if move else (Move.RETRY if self.kind == ErrorKind.TRANSIENT else Move.REFUSED)
        self.step = step
        self.advice = advice or (ADVICE_UNSETTLED if self.move == Move.UNSETTLED else ADVICE[self.kind])
        super().__init__(f"{self.error_class}: {self.message}; {self.advice}")

    @property
    def maybe_posted(self) -> bool:
        return self.move == Move.UNSETTLED

    @property
    def label(self) -> str:
        """'ErrorClass: message', as drafts.error and attempts.error keep it."""
        return f"{self.error_class}: {self.message}"


ADVICE_UNSETTLED = ("Instagram did not say whether the post was made; pawpost looks for it on the account and "
                    "never sends it again by itself")
# A refusal that says the account's 24-hour publishing quota is spent (the official API's limit): the poster pauses
# until the oldest post of the last 24 hours is a day old, when the rolling quota frees a place.
QUOTA_ADVICE = "the account's 24-hour publishing limit is reached; posting resumes when it frees a place"
ADVICE = {
    ErrorKind.TRANSIENT: "pawpost tries again later",
    ErrorKind.COOLDOWN: "Instagram asked to slow down; posting pauses and resumes by itself",
    ErrorKind.REAUTH: "Instagram logged pawpost out; run 'pawpost login'",
    ErrorKind.FATAL: "posting is stopped; fix it in the Instagram app if asked, then run 'pawpost login'",
    ErrorKind.BAD_CONTENT: "this photo or caption cannot be posted as it is; fix the draft and approve it again",
}

# What the owner must do for each fatal cause, one sentence for `pawpost status`.
FATAL_ADVICE = {
    "challenge": "Instagram wants to verify the account: open the Instagram app, confirm it was you, "
                 "then run 'pawpost login'",
    "two_factor": "Instagram asks for a two-factor code: run 'pawpost login' (or set instagram.totp_seed_file)",
    "password": "Instagram refused the password: fix instagram.password_file (or the password), "
                "then run 'pawpost login'",
    "suspended": "Instagram suspended or disabled the account: resolve it in the Instagram app, "
                 "then run 'pawpost login'",
    "upgrade": "Instagram refuses this client version: upgrade pawpost (and instagrapi), then run 'pawpost login'",
    "proxy": "Instagram blocked the network address: change instagram.proxy (or the network), "
             "then run 'pawpost login'",
    "logged_out": "Instagram logged pawpost out and logging in again did not work: run 'pawpost login'",
    "no_credentials": "there is no Instagram session and no password to log in with: run 'pawpost login'",
}


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None) or getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc or type(exc).__name__)
    # Masked before it is cut short: a secret cut in half would no longer be recognised.
    text = redact(" ".join(text.split()), known_secrets())
    return text[:200] + ("..." if len(text) > 200 else "")


def step_error(step: Step, evidence: Evidence, exc: BaseException | None, *, error_class: str = "",
               message: str = "") -> PublishError:
    """The `PublishError` of a failed step: the table decides, the evidence's refusal explains."""
    decision: Decision = decide(step, evidence)
    refusal = evidence.refusal
    text = message or (refusal.reason if refusal else "") or (_short(exc) if exc is not None else "no answer")
    status = getattr(getattr(exc, "response", None), "status_code", None)  # an HTTP answer's, never a curl code
    if isinstance(status, int) and str(status) not in text:
        text = f"HTTP {status}: {text}"
    return PublishError(decision.kind, text, error_class=error_class or (type(exc).__name__ if exc else "NoAnswer"),
                        advice=refusal.advice if refusal else "", outcome=decision.outcome, move=decision.move,
                        step=step)


def classify(exc: BaseException) -> PublishError:
    """Any exception that no publisher step classified (a login, our own checks, a bug) as a `PublishError`.

    Account-level instagrapi errors keep their meaning; our BadContent is a refusal of the draft; anything else is
    transient. Only a publisher's step (`step_error`) can make an outcome unknown."""
    if isinstance(exc, PublishError):
        return exc
    name = type(exc).__name__
    message = _short(exc)
    status = _status(exc)
    if status and str(status) not in message:
        message = f"HTTP {status}: {message}"
    kind, advice = _kind(exc)
    return PublishError(kind, message, error_class=name, advice=advice,
                        outcome=Outcome.REFUSED if kind != ErrorKind.TRANSIENT else Outcome.NOT_SENT)


def _kind(exc: BaseException) -> tuple[ErrorKind, str]:
    try:
        from instagrapi import exceptions as ig
    except ImportError:  # pragma: no cover - instagrapi is a dependency
        ig = None
    if ig is not None:
        if isinstance(exc, ig.ChallengeError | ig.CaptchaChallengeRequired):
            return ErrorKind.FATAL, FATAL_ADVICE["challenge"]
        if isinstance(exc, ig.TwoFactorRequired):
            return ErrorKind.FATAL, FATAL_ADVICE["two_factor"]
        if isinstance(exc, ig.BadPassword | ig.BadCredentials):
            return ErrorKind.FATAL, FATAL_ADVICE["password"]
        if isinstance(exc, ig.AccountSuspended):
            return ErrorKind.FATAL, FATAL_ADVICE["suspended"]
        if isinstance(exc, ig.ClientNeedsUpgradeError):
            return ErrorKind.FATAL, FATAL_ADVICE["upgrade"]
        if isinstance(exc, ig.ProxyAddressIsBlocked):
            return ErrorKind.FATAL, FATAL_ADVICE["proxy"]
        if isinstance(exc, ig.ReloginAttemptExceeded):
            return ErrorKind.FATAL, FATAL_ADVICE["logged_out"]
        if "login_required" in f"{getattr(exc, 'message', '')} {exc}":
            return ErrorKind.REAUTH, ""
        if isinstance(exc, ig.PleaseWaitFewMinutes | ig.RateLimitError | ig.FeedbackRequired | ig.ClientThrottledError
                      | ig.SentryBlock):
            return ErrorKind.COOLDOWN, ""
        if isinstance(exc, ig.LoginRequired | ig.ClientLoginRequired | ig.ClientUnauthorizedError):
            return ErrorKind.REAUTH, ""
    if isinstance(exc, BadContent):
        return ErrorKind.BAD_CONTENT, ""
    return ErrorKind.TRANSIENT, ""


class BadContent(PawpostError):
    """The photo or caption cannot be posted as it is (unreadable photo, caption over Instagram's limits)."""
