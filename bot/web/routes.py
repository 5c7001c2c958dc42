"""The review site's route table: every URL and what answers it (a page, an action, a staged photo), as one
Starlette app for `pawpost web` and the daemon.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import bot.web.actions as actions
import bot.web.pages as pages
import bot.web.staged as staged
from bot.config import Config
from bot.publish.staging import MOUNT
from bot.runtime.services import ModelServices
from bot.web.app import HERE, SecurityHeaders, Site, action, not_found, page, server_error


def create_app(config: Config, *, login: bool | None = None, models: ModelServices | None = None) -> Starlette:
    """The review site for `config`. `login` overrides whether a login is required (default: by the address);
    `models` are the daemon's model services, which the site then shares (default: its own)."""
    routes = [
        Route("/", page(pages.queue)),
        Route("/drafts/{draft_id:int}", page(pages.draft)),
        Route("/drafts/{draft_id:int}/image", page(pages.image)),
        Route("/drafts/{draft_id:int}/photos/{photo_id:int}/image", page(pages.photo_image)),
        Route("/schedule", page(pages.schedule)),
        Route("/posted", page(pages.posted)),
        Route("/status", page(pages.status)),
        Route("/login", pages.login_form),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", action(actions.logout), methods=["POST"]),
        Route("/drafts/{draft_id:int}/approve", action(actions.approve), methods=["POST"]),
        Route("/drafts/{draft_id:int}/caption", action(actions.caption), methods=["POST"]),
        Route("/drafts/{draft_id:int}/reject", action(actions.reject), methods=["POST"]),
        Route("/drafts/{draft_id:int}/regenerate", action(actions.regenerate), methods=["POST"]),
        Route("/drafts/{draft_id:int}/pets", action(actions.pets), methods=["POST"]),
        Route("/drafts/{draft_id:int}/schedule", action(actions.schedule), methods=["POST"]),
        Route("/drafts/{draft_id:int}/posted", action(actions.posted), methods=["POST"]),
        Route("/drafts/{draft_id:int}/media", action(actions.media), methods=["POST"]),
        Route("/drafts/{draft_id:int}/media/split", action(actions.split), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        Route(MOUNT + "/{name}", staged.photo),  # graph's one-time photo URLs: no login, the path is the secret
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found, 500: server_error},
                    middleware=[Middleware(SecurityHeaders)])
    app.state.site = Site(config, login=login, models=models)
    return app
