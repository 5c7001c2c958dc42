"""The review site's Starlette plumbing: what every request shares (`Site`), the locks it passes, error pages.

Pages are in bot.web.pages, actions (every POST) in bot.web.actions, the route table in bot.web.routes; pages and
actions call the same services as the CLI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot import timeutil
from bot.config import Config
from bot.drafts.lifecycle import DraftStatus, can
from bot.drafts.review import confidence_shown, login_required
from bot.errors import NotFound, PawpostError
from bot.links import is_loopback
from bot.runtime.services import ModelServices
from bot.store.database import Store
from bot.web.auth import COOKIE, LoginLimiter, Session, Sessions, load_secret, session_ended, session_version
from bot.web.jobs import Jobs

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
FLASH = "pawpost_flash"

Handler = Callable[[Request], Awaitable[Response]]
ActionHandler = Callable[[Request, FormData], Awaitable[Response]]


# How long a model action of the page (regenerate, a pet correction) waits for the models while the pipeline, a
# retrain or another process's job has them, before the page says so.
MODELS_WAIT_SECONDS = 120.0


class Site:
    """What every request needs: the config, the locks, the templates, and (on first use) the models.

    `models`: the daemon's own model services when the site runs inside `pawpost run` (one set of models, jobs
    one at a time, the daemon's idle unload); otherwise the site's own, built and unloaded here.
    """

    def __init__(self, config: Config, *, login: bool | None = None, models: ModelServices | None = None) -> None:
        self.config = config
        self.login = login_required(config) if login is None else login
        self.sessions = Sessions(load_secret(config.paths.data), config.web.session_days)
        self.limiter = LoginLimiter()
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["local"] = lambda moment: timeutil.local(moment, config.schedule.zone)
        # A time field's value: ISO, 24-hour, local ('2026-12-24 19:00'); empty for a stored time that cannot be read.
        self.templates.env.filters["field_time"] = lambda moment: (
            timeutil.local(moment, config.schedule.zone) if timeutil.stored(moment) else "")
        self.templates.env.globals["timezone"] = config.schedule.timezone
        # What a draft's card offers is what bot.drafts.lifecycle allows in its state.
        self.templates.env.filters["confidence"] = confidence_shown
        self.templates.env.globals["can"] = can
        self.templates.env.globals["states"] = DraftStatus
        self.own_models = models is None
        self.models = ModelServices(config) if models is None else models  # Vision and the Captioner, on first use
        self._unload_timer: threading.Timer | None = None
        self.jobs = Jobs()  # the page's regenerates, in background workers
        self.templates.env.globals["job_of"] = self.jobs.get

    # -- the database, per call: sqlite3 connections stay in the thread that opened them ---------------------

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            store = Store.for_config(self.config)
            try:
                return fn(store, *args, **kwargs)
            finally:
                store.close()

        return await run_in_threadpool(call)

    # -- models, loaded only when an action needs them ------------------------------------------------------

    def vision(self) -> Any:
        return self.models.vision()

    def captioner(self) -> Any:
        return self.models.captioner()

    @contextmanager
    def using_models(self) -> Iterator[None]:
        """One model job at a time, in this process and across processes (the GPU lock a retrain or a daemon
        holds); GpuBusy after MODELS_WAIT_SECONDS. Afterwards what stays idle is unloaded (`models_used`)."""
        with self.models.using(timeout=MODELS_WAIT_SECONDS):
            try:
                yield
            finally:
                self.models_used()

    def models_used(self) -> None:
        """After a model action: unload what stays idle for idle_unload_minutes, as the daemon's worker does for
        the models it shares with the site."""
        if not self.own_models:
            return
        if self._unload_timer is not None:
            self._unload_timer.cancel()
        timer = threading.Timer(self.models.runtime.idle_seconds + 1, self._unload_idle)
        timer.daemon = True
        timer.start()
        self._unload_timer = timer

    def _unload_idle(self) -> None:
        with self.models.lock:
            for key in self.models.runtime.unload_idle():
                log.info("web: models.%s unloaded after %g idle minutes", key, self.config.models.idle_unload_minutes)

    # -- responses ---------------------------------------------------------------------------------------------

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        session: Session | None = getattr(request.state, "session", None)
        flash = request.cookies.get(FLASH)
        response = self.templates.TemplateResponse(request, name, {
            "csrf": self.sessions.csrf(session) if session else "",
            "flash": unquote(flash) if flash else None,
            "login": self.login,
            "path": request.url.path,
            **context,
        }, status_code=status_code)
        if flash:
            response.delete_cookie(FLASH, path="/")
        return response

    def message(self, request: Request, status_code: int, title: str, text: str, hint: str = "") -> Response:
        """A clear page for anything that went wrong: what happened and what to do."""
        return self.render(request, "message.html", status_code, title=title, text=text, hint=hint)

    def set_session(self, request: Request, response: Response, cookie: str) -> None:
        response.set_cookie(COOKIE, cookie, max_age=int(self.sessions.seconds), path="/", httponly=True,
                            samesite="strict", secure=self.secure(request))

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.config.web.public_url.startswith("https://")

    def redirect(self, request: Request, to: str, flash: str | None = None) -> Response:
        response = RedirectResponse(to, status_code=303)
        if flash:
            response.set_cookie(FLASH, quote(flash), max_age=60, path="/", httponly=True, samesite="strict",
                                secure=self.secure(request))
        return response

    # -- the locks ---------------------------------------------------------------------------------------------

    def host_ok(self, request: Request) -> bool:
        """Without a login, only a loopback Host: a web page elsewhere cannot reach us by DNS rebinding."""
        if self.login:
            return True
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
        if host.count(":") > 1 or host.startswith("::"):  # a bare IPv6 address without a port
            host = (request.headers.get("host") or "").strip("[]")
        return is_loopback(host)

    async def read_session(self, request: Request) -> tuple[Session | None, str]:
        """The request's session, or None and why ('missing', 'invalid', 'expired', or 'ended': logged out or
        revoked on the server, which is asked on every request)."""
        session, why = self.sessions.read(request.cookies.get(COOKIE))
        if session is not None and await self.run(session_ended, session):
            return None, "ended"
        return session, why

    def refuse_session(self, request: Request, why: str) -> Response:
        hint = "Run 'pawpost web --url' on the server and open the link it prints (it works once)."
        if why == "ended":
            return self.message(request, 401, "You are logged out",
                                "This login was ended (a logout, or 'pawpost web --url --revoke-all').", hint)
        if why == "expired":
            return self.message(request, 401, "Your session has expired", "Log in again to keep reviewing.", hint)
        if why == "invalid":
            return self.message(request, 401, "This login is no longer valid",
                                "The site's secret changed since you logged in, or the cookie was altered.", hint)
        return self.message(request, 401, "Please log in", "This review site needs a login link.", hint)


def site_of(request: Request) -> Site:
    return request.app.state.site


def back(request: Request, form: FormData, flash: str, anchor: str | None = None) -> Response:
    """After a form: back to the page it was on (a local path only: never an open redirect), at `anchor` when
    given, with `flash` said there."""
    to = str(form.get("next") or "/")
    if not to.startswith("/") or to.startswith("//") or "\\" in to:
        to = "/"
    if anchor:
        to = to.partition("#")[0] + "#" + anchor
    return site_of(request).redirect(request, to, flash)


def page(handler: Handler) -> Handler:
    """A GET page: a session is required where login is; on loopback without login one is made on the spot
    (its only job there is to bind the CSRF tokens)."""

    async def endpoint(request: Request) -> Response:
        site = site_of(request)
        if not site.host_ok(request):
            return site.message(request, 400, "Unknown host name", "Open the review site by its own address.",
                                "Use http://127.0.0.1 or http://localhost.")
        session, why = await site.read_session(request)
        issued = None
        if session is None:
            if site.login:
                return site.refuse_session(request, why)
            issued, session = site.sessions.issue(version=await site.run(session_version))
        request.state.session = session
        response = await guarded(request, lambda: handler(request))
        if issued:
            site.set_session(request, response, issued)
        return response

    return endpoint


def action(handler: ActionHandler) -> Handler:
    """A POST: a valid session and the CSRF token of that session, or a clear refusal; nothing is changed."""

    async def endpoint(request: Request) -> Response:
        site = site_of(request)
        if not site.host_ok(request):
            return site.message(request, 400, "Unknown host name", "Open the review site by its own address.")
        session, why = await site.read_session(request)
        if session is None and site.login:
            return site.refuse_session(request, why)
        form = await request.form()
        if session is None or not site.sessions.check_csrf(session, form.get("csrf")):
            return site.message(request, 403, "This form was refused",
                                "It did not come from a page of this site (its security token is missing or wrong), "
                                "so nothing was changed.", "Reload the page and try again.")
        request.state.session = session
        return await guarded(request, lambda: handler(request, form))

    return endpoint


async def guarded(request: Request, call: Callable[[], Awaitable[Response]]) -> Response:
    """Owner-facing errors from the services become pages: 404 for what does not exist, 409 for the rest."""
    site = site_of(request)
    try:
        return await call()
    except NotFound as exc:
        return site.message(request, 404, "Not found", str(exc))
    except PawpostError as exc:
        return site.message(request, 409, "That cannot be done", str(exc))


async def not_found(request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, HTTPException) else 404
    title = "Not found" if code == 404 else "Not allowed" if code == 405 else "Bad request"
    return site_of(request).message(request, code, title, "There is no such page here.",
                                    "Drafts are at /drafts/ID; the review queue is at /.")


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("web: %s %s failed", request.method, request.url.path, exc_info=exc)
    return site_of(request).message(request, 500, "Something went wrong",
                                    "The page could not be made; the details are in pawpost's log.")


# Only this site's own scripts, styles, images and forms; never framed; no Referer (a login link stays here).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, pages, images and static files alike."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
