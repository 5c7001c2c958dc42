"""Publishing errors and their classification: transient, cooldown, re-auth, fatal, bad content.

Every failure of a publish is turned into one `PublishError` here, so the poster decides by kind, never by library.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import PawpostError
from bot.logs import known_secrets, redact


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # network, timeout, 5xx: retry at a later tick with backoff
    COOLDOWN = "cooldown"  # rate limit, feedback required: pause all posting for hours
    REAUTH = "reauth"  # session expired: one re-login with the saved device
    FATAL = "fatal"  # challenge, 2FA, bad password, suspended: stop until `pawpost login`
    BAD_CONTENT = "bad_content"  # this photo or caption will never go out: the draft fails


class PublishError(PawpostError):
    """A failed publish (or login), classified. `maybe_posted`: the post may exist anyway (reconcile first)."""

    def __init__(self, kind: ErrorKind, message: str, *, error_class: str = "PublishError",
                 maybe_posted: bool = False, advice: str = "") -> None:
        self.kind = ErrorKind(kind)
        # Stored in drafts.error and attempts.error and shown by `status`: masked with the known secret values too.
        self.message = redact(message, known_secrets())
        self.error_class = error_class
        self.maybe_posted = maybe_posted
        self.advice = advice or ADVICE[self.kind]
        super().__init__(f"{self.error_class}: {self.message}; {self.advice}")

    @property
    def label(self) -> str:
        """'ErrorClass: message', as drafts.error and attempts.error keep it."""
        return f"{self.error_class}: {self.message}"


ADVICE = {
    ErrorKind.TRANSIENT: "pawpost tries again later",
    ErrorKind.COOLDOWN: "Instagram asked to slow down; posting pauses and resumes by itself",
    ErrorKind.REAUTH: "Instagram logged pawpost out; run 'pawpost login'",
    ErrorKind.FATAL: "posting is stopped; fix it in the Instagram app if asked, then run 'pawpost login'",
    ErrorKind.BAD_CONTENT: "this draft will not be retried",
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


def classify(exc: BaseException, *, maybe_posted: bool = False) -> PublishError:
    """Turn any exception from a publish or a login into a `PublishError` with its kind."""
    if isinstance(exc, PublishError):
        return exc
    name = type(exc).__name__
    message = _short(exc)
    status = _status(exc)
    if status and str(status) not in message:
        message = f"HTTP {status}: {message}"
    kind, advice = _kind(exc)
    return PublishError(kind, message, error_class=name, maybe_posted=maybe_posted, advice=advice)


def _kind(exc: BaseException) -> tuple[ErrorKind, str]:
    try:
        from instagrapi import exceptions as ig
    except ImportError:  # pragma: no cover - instagrapi is a dependency
        ig = None
    status = _status(exc)
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
            return ErrorKind.REAUTH, ""  # also an upload's bare 403 answer, which instagrapi does not map
        if isinstance(exc, ig.PleaseWaitFewMinutes | ig.RateLimitError | ig.FeedbackRequired | ig.ClientThrottledError
                      | ig.SentryBlock):
            return ErrorKind.COOLDOWN, ""
        if isinstance(exc, ig.LoginRequired | ig.ClientLoginRequired | ig.ClientUnauthorizedError):
            return ErrorKind.REAUTH, ""
        if isinstance(exc, ig.ClientConnectionError | ig.ClientRequestTimeout | ig.ClientIncompleteReadError
                      | ig.ClientJSONDecodeError):
            return ErrorKind.TRANSIENT, ""
        if isinstance(exc, ig.PhotoNotUpload | ig.ClientBadRequestError | ig.UnknownError | ig.InvalidMediaId) \
                and status in (400, 413, 415, 422):
            # Instagram looked at this photo or caption and said no: sending it again changes nothing.
            return ErrorKind.BAD_CONTENT, ""
    if status == 429:
        return ErrorKind.COOLDOWN, ""
    if isinstance(exc, BadContent):
        return ErrorKind.BAD_CONTENT, ""
    # Anything else (5xx, a dropped connection, a timeout, an unknown reply) might pass next time.
    return ErrorKind.TRANSIENT, ""


class BadContent(PawpostError):
    """The photo or caption cannot be posted as it is (unreadable photo, caption over Instagram's limits)."""
