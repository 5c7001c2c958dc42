"""Serving the review site: in the foreground (`pawpost web`) or on a thread inside the daemon (`pawpost run`
with [web] enabled). uvicorn, one process; the database is the only state.
"""

from __future__ import annotations

import errno
import logging
import threading
from typing import Any

from bot.config import Config
from bot.errors import PawpostError
from bot.links import site_url, split_listen

log = logging.getLogger(__name__)


def make_server(config: Config, *, login: bool | None = None, models: Any = None) -> Any:
    import uvicorn

    from bot.web.routes import create_app

    host, port = split_listen(config.web.listen)
    app = create_app(config, login=login, models=models)
    # Forwarded headers only from web.trusted_proxies (none by default): otherwise any local client could claim
    # another address (and dodge the failed-login limit). Behind a trusted proxy, https makes the cookie Secure.
    trusted = [str(network) for network in config.web.trusted_proxies]
    settings = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                              proxy_headers=bool(trusted), forwarded_allow_ips=list(trusted) or None,
                              server_header=False)
    return uvicorn.Server(settings)


def check_port(config: Config) -> None:
    """Fail with one line when the address cannot be listened on (in use, not this machine's)."""
    import socket

    host, port = split_listen(config.web.listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            why = "is already in use (is 'pawpost run' with [web] enabled running?)" \
                if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror}"
            raise PawpostError(f"web.listen = {config.web.listen!r} {why}") from None


def serve(config: Config) -> None:
    """Run the site in the foreground until Ctrl-C."""
    check_port(config)
    make_server(config).run()


class WebThread:
    """The site on a background thread, for the daemon: start, then stop within a few seconds."""

    def __init__(self, config: Config, models: Any = None) -> None:
        self.server = make_server(config, models=models)
        self.thread = threading.Thread(target=self._run, name="pawpost-web", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except Exception:
            log.exception("the review site stopped")

    def start(self) -> WebThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_in_daemon(config: Config, models: Any = None) -> WebThread | None:
    """The site inside `pawpost run` when [web] enabled, sharing the daemon's model services `models`; a port in
    use is logged, and the bot runs on without it."""
    if not config.web.enabled:
        return None
    try:
        check_port(config)
    except PawpostError as exc:
        log.error("review site not started: %s", exc)
        return None
    log.info("review site on %s", site_url(config))
    return WebThread(config, models).start()
