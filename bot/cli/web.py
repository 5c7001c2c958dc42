"""`pawpost web [--url]`: the local review site, or a one-time login link to it."""

from __future__ import annotations

import click

from bot.cli import App, pass_app


@click.command()
@click.option("--url", "url_only", is_flag=True, help="Print a one-time login link (valid 15 minutes) and exit.")
@click.option("--revoke-all", is_flag=True, help="End every logged-in session of the review site (every browser "
              "logs in again), then exit; with --url, print a fresh login link too.")
@pass_app
def web(app: App, url_only: bool, revoke_all: bool) -> None:
    """The review site: see each draft as it will be posted, correct, approve, reschedule (default 127.0.0.1:8686)."""
    from bot.drafts.review import login_required
    from bot.links import phone_hint, site_url

    config = app.config
    base = site_url(config)
    if revoke_all:
        from bot.web.auth import end_all_sessions

        end_all_sessions(app.store)
        click.echo("every review-site session has ended; each browser needs a new login link", err=True)
        if not url_only:
            return
    if url_only:
        from bot.web.auth import LOGIN_LINK_MINUTES, login_link

        click.echo(login_link(config, app.store))
        click.echo(f"open it within {LOGIN_LINK_MINUTES} minutes; it works once", err=True)
        if not config.web.public_url:
            click.echo("(the link names this machine as the site listens; to open it from your phone through "
                       "Tailscale, a reverse proxy or a tunnel, set [web] public_url: README, Reach it from your "
                       "phone)", err=True)
        return
    from bot.web.server import check_port, serve

    check_port(config)  # a busy port is said before anything claims the site is up
    need = login_required(config)
    click.echo(f"review site on {base}" + (" (log in with the link from 'pawpost web --url')" if need else "")
               + "; Ctrl-C stops it", err=True)
    if phone_hint(config):
        click.echo(f"({phone_hint(config)})", err=True)
    serve(config)


def register(cli: click.Group) -> None:
    cli.add_command(web)
