"""The review site's route table: every URL and what answers it (a page, an action, a staged photo), as one
Starlette app for `pawpost web` and the daemon.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import bot.web.actions as actions
import bot.web.confirm as confirm
import bot.web.grid as grid
import bot.web.pages as pages
import bot.web.reels as reels
import bot.web.staged as staged
from bot.config import Config
from bot.publish.staging import MOUNT
from bot.runtime.services import ModelServices
from bot.store.database import MAX_ROWID
from bot.web.app import HERE, SecurityHeaders, Site, action, not_found, page, server_error


class RowIdConvertor(Convertor[int]):
    """A draft's or photo's id in a URL (`{draft_id:id}`), the one place the site reads one: digits, fewer than the
    database's largest id has, so every id that matches can be looked up; a longer one matches no route and is the
    404 page."""

    regex = f"[0-9]{{1,{len(str(MAX_ROWID)) - 1}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", RowIdConvertor())


def create_app(config: Config, *, login: bool | None = None, models: ModelServices | None = None) -> Starlette:
    """The review site for `config`. `login` overrides whether a login is required (default: by the address);
    `models` are the daemon's model services, which the site then shares (default: its own)."""
    routes = [
        Route("/", page(pages.queue)),
        Route("/drafts/{draft_id:id}", page(pages.draft)),
        Route("/drafts/{draft_id:id}/image", page(pages.image)),
        Route("/drafts/{draft_id:id}/photos/{photo_id:id}/image", page(pages.photo_image)),
        Route("/drafts/{draft_id:id}/video", page(reels.video)),
        Route("/schedule", page(pages.schedule)),
        Route("/grid", page(grid.grid)),
        Route("/grid/photos/{photo_id:id}/image", page(grid.tile_image)),
        Route("/grid/move", action(grid.move), methods=["POST"]),
        Route("/posted", page(pages.posted)),
        Route("/status", page(pages.status)),
        Route("/login", pages.login_form),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", action(actions.logout), methods=["POST"]),
        Route("/drafts/{draft_id:id}/approve", action(actions.approve), methods=["POST"]),
        Route("/drafts/{draft_id:id}/caption", action(actions.caption), methods=["POST"]),
        Route("/drafts/{draft_id:id}/reject", action(actions.reject), methods=["POST"]),
        Route("/drafts/{draft_id:id}/regenerate", action(actions.regenerate), methods=["POST"]),
        Route("/drafts/{draft_id:id}/regenerate", page(actions.regenerate_progress)),
        Route("/drafts/{draft_id:id}/unapprove", action(actions.unapprove), methods=["POST"]),
        Route("/drafts/{draft_id:id}/restore", action(actions.restore), methods=["POST"]),
        Route("/drafts/{draft_id:id}/pets", action(actions.pets), methods=["POST"]),
        Route("/drafts/{draft_id:id}/schedule", action(actions.schedule), methods=["POST"]),
        Route("/drafts/{draft_id:id}/posted", action(actions.posted), methods=["POST"]),
        Route("/drafts/{draft_id:id}/media", action(actions.media), methods=["POST"]),
        Route("/drafts/{draft_id:id}/media/split", action(actions.split), methods=["POST"]),
        Route("/drafts/{draft_id:id}/cover", action(reels.cover), methods=["POST"]),
        Route("/drafts/{draft_id:id}/confirm", confirm.confirm_form),  # "I posted it" links: no login, the token
        Route("/drafts/{draft_id:id}/confirm", confirm.confirm, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        Route(MOUNT + "/{name}", staged.photo),  # graph's one-time photo URLs: no login, the path is the secret
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found, 500: server_error},
                    middleware=[Middleware(SecurityHeaders)])
    app.state.site = Site(config, login=login, models=models)
    return app
