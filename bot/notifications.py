"""Telling the owner through Apprise ([notify] urls: ntfy, email, Telegram, Signal, Discord, json:// ...): drafts
waiting for review (batched), posting stopped or cooling down, an unsettled post, a post published, a retrain.

What to say comes from the database (events, drafts) and the model registry, with marks kept in the database, so
a restart neither loses the place nor repeats a message; a message is kept in the database until it is delivered,
so a stop in the middle of sending it (or a crash) sends it at the next start. A notifier that fails or hangs is
logged and given up after notify.timeout_seconds on the notifier's own thread: posting never waits for it, and a
stop never waits for it either.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import timeutil
from bot.config import Config
from bot.links import draft_link, link, phone_hint
from bot.store import keys
from bot.store.database import Store
from bot.store.states import DraftStatus
from bot.thumbnails import draft_thumbnail

log = logging.getLogger(__name__)

ROUND_SECONDS = 30.0


@dataclass(frozen=True)
class Message:
    kind: str  # review | posted | stopped | cooldown | unsettled | failed | retrain | handover
    title: str
    body: str
    attach: tuple[str, ...] = ()  # files sent with it (the notify publisher's prepared photo)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "body": self.body, "attach": list(self.attach)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(str(data["kind"]), str(data["title"]), str(data["body"]), tuple(data.get("attach") or ()))


# How many new drafts a "drafts waiting" message names (each with its first line and link), and how many of their
# thumbnails it carries.
REVIEW_LISTED = 5
REVIEW_THUMBNAILS = 3


def _site(config: Config, path: str = "/") -> str:
    return link(config, path)


def first_line(caption: str | None, limit: int = 120) -> str:
    """A caption's first line, cut at `limit` characters (a notification's preview shows little more)."""
    text = (caption or "").strip().splitlines()[0].strip() if (caption or "").strip() else ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def permalink(row: Any) -> str:
    """A posted draft's Instagram link: never a local file (the dry-run publisher's outbox), never a guess."""
    url = str(row["media_url"] or "")
    return url if url.startswith("https://") else ""


def event_message(config: Config, kind: str, text: str, draft_id: int | None,
                  store: Store | None = None) -> Message | None:
    """The message for one event, or None for the events the owner is not told about."""
    if kind == "post.posted":
        if not config.notify.posts:
            return None
        return _posted_message(config, text, draft_id, store)
    if kind == "post.stopped":
        return Message("stopped", "pawpost: posting stopped", f"{text}\nNothing is posted until you act; "
                       f"'pawpost status' (or {_site(config, '/status')}) says what to run.")
    if kind == "post.cooldown":
        return Message("cooldown", "pawpost: posting paused", f"{text}\nIt resumes by itself; nothing to do.")
    if kind == "post.unconfirmed":
        return Message("unsettled", "pawpost: a post needs your decision",
                       f"{text}\nCheck the account, then run 'pawpost reconcile {draft_id}'; if it was not posted, "
                       f"'pawpost drafts resend {draft_id}', if you posted it yourself, 'pawpost drafts posted "
                       f"{draft_id}' (or the draft's page: {draft_link(config, draft_id or 0)}).")
    if kind == "post.failed":
        return Message(DraftStatus.FAILED, "pawpost: a post was refused",
                       f"{text}\nFix the caption or photo and approve it again: {draft_link(config, draft_id or 0)}")
    return None


def _posted_message(config: Config, text: str, draft_id: int | None, store: Store | None) -> Message:
    """"Posted": the photo, the caption and the post's Instagram link (the dry run says where it went instead)."""
    row = store.one("SELECT id, caption, media_url, media_code FROM drafts WHERE id = ?", (draft_id,)) \
        if store is not None and draft_id is not None else None
    if row is None:
        return Message(DraftStatus.POSTED, "pawpost: posted", f"{text}\n{_site(config, '/posted')}")
    url = permalink(row)
    if url:
        where = f"On Instagram: {url}"
    elif str(row["media_url"] or "").startswith("file:"):
        where = "Dry run: written to the outbox, not posted to Instagram."
    else:
        where = "Confirmed by you (no link to the post was given)."
    thumb = draft_thumbnail(store, int(row["id"]))
    return Message(DraftStatus.POSTED, f"pawpost: draft {row['id']} posted",
                   f"{(row['caption'] or '').strip()}\n\n{where}\nAll posts: {_site(config, '/posted')}",
                   attach=(str(thumb),) if thumb else ())


def collect(store: Store, config: Config, now: datetime | None = None) -> list[Message]:
    """Everything to say now; the marks move on in the same call (a message is sent at most once)."""
    now = now or timeutil.now()
    out: list[Message] = []
    last_event = store.get(keys.NOTIFY_LAST_EVENT)
    newest = store.value("SELECT max(id) FROM events") or 0
    if last_event is None:
        # The first round: history is not news. Waiting drafts are, and are counted below.
        store.put(keys.NOTIFY_LAST_EVENT, newest)
        store.put(keys.NOTIFY_LAST_RETRAIN, _last_retrain_id(config) or "")
    else:
        for row in store.all("SELECT id, kind, message, draft_id FROM events WHERE id > ? ORDER BY id",
                             (int(last_event),)):
            message = event_message(config, row["kind"], row["message"], row["draft_id"], store)
            if message is not None:
                out.append(message)
        store.put(keys.NOTIFY_LAST_EVENT, newest)
        retrain = _retrain_message(store, config)
        if retrain is not None:
            out.append(retrain)
    review = _review_message(store, config, now)
    if review is not None:
        out.append(review)
    return out


def _review_message(store: Store, config: Config, now: datetime) -> Message | None:
    """At most one 'drafts are waiting' per review_every_hours, and only when a new draft arrived since."""
    seen = int(store.get(keys.NOTIFY_REVIEW_LAST_DRAFT) or 0)
    newest = store.value("SELECT max(id) FROM drafts WHERE status = ?", (DraftStatus.PENDING,)) or 0
    if newest <= seen:
        return None
    sent = timeutil.parse(store.get(keys.NOTIFY_REVIEW_SENT_AT))
    if sent is not None and now - sent < timedelta(hours=config.notify.review_every_hours):
        return None
    waiting = store.value("SELECT count(*) FROM drafts WHERE status = ?", (DraftStatus.PENDING,)) or 0
    store.put(keys.NOTIFY_REVIEW_SENT_AT, timeutil.iso(now))
    store.put(keys.NOTIFY_REVIEW_LAST_DRAFT, newest)
    noun = "draft is" if waiting == 1 else "drafts are"
    new = store.all("SELECT id, caption FROM drafts WHERE status = ? AND id > ? ORDER BY id DESC LIMIT ?",
                    (DraftStatus.PENDING, seen, REVIEW_LISTED))
    lines, attach = [], []
    for row in new:
        lines.append(f"Draft {row['id']}: {first_line(row['caption']) or '(no caption yet)'}")
        lines.append(draft_link(config, row["id"]))
        if len(attach) < REVIEW_THUMBNAILS and (thumb := draft_thumbnail(store, row["id"])) is not None:
            attach.append(str(thumb))
    lines.append(f"Review them all at {_site(config, '/')} (or 'pawpost drafts review').")
    if phone_hint(config):
        lines.append(f"({phone_hint(config)})")
    return Message("review", f"pawpost: {waiting} {noun} waiting for review", "\n".join(lines), tuple(attach))


def _last_retrain_id(config: Config) -> str | None:
    try:
        from bot.captions.registry import Registry

        run = Registry(config).last_run()
    except Exception:  # an unreadable registry is 'pawpost models list''s to explain
        return None
    return run.id if run else None


def _retrain_message(store: Store, config: Config) -> Message | None:
    from bot.captions.registry import Registry

    try:
        run = Registry(config).last_run()
    except Exception:
        return None
    if run is None or run.id == (store.get(keys.NOTIFY_LAST_RETRAIN) or ""):
        return None
    store.put(keys.NOTIFY_LAST_RETRAIN, run.id)
    metric = str(run.metrics.get("primary_metric") or config.retrain.primary_metric)
    new, old = (run.metrics.get("new") or {}).get(metric), (run.metrics.get("old") or {}).get(metric)
    score = f" ({metric} {new:.3f}, was {old:.3f})" if isinstance(new, float | int) and isinstance(old, float | int) \
        else ""
    if run.promoted:
        return Message("retrain", f"pawpost: caption model {run.id} promoted", f"{run.reason}{score}".strip())
    return Message("retrain", f"pawpost: retrain {run.id} not promoted",
                   f"{run.reason}{score}; the current model stays.".strip())


class RedactUrls(logging.Filter):
    """Apprise logs the URLs it cannot parse or reach; they hold tokens, so every part of one long enough to be a
    secret is masked before any handler sees the line."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        parts = {p for url in urls for p in re.split(r"[^A-Za-z0-9_\-]+", url.split("://", 1)[-1]) if len(p) >= 6}
        self.secrets = sorted({*urls, *parts}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, "***")
        record.msg, record.args = text, None
        return True


class Sender:
    """Apprise with a deadline: each message goes to every URL; one that fails or hangs is logged, never raised."""

    def __init__(self, urls: list[str], timeout: float) -> None:
        self.urls = urls
        self.timeout = timeout
        self._apprise: Any = None
        self._thread: threading.Thread | None = None
        if urls:
            apprise_log = logging.getLogger("apprise")
            for old in [f for f in apprise_log.filters if isinstance(f, RedactUrls)]:
                apprise_log.removeFilter(old)  # a config reload replaces the URLs
            apprise_log.addFilter(RedactUrls(urls))

    def _targets(self) -> Any:
        if self._apprise is None:
            import apprise

            targets = apprise.Apprise()
            for n, url in enumerate(self.urls):
                if not targets.add(url):
                    # Never the URL itself: it usually holds a token.
                    log.error("notify.urls[%d] is not an Apprise URL pawpost can use; it is skipped", n)
            self._apprise = targets
        return self._apprise

    def send(self, message: Message, stop: threading.Event | None = None) -> bool:
        """True when every notifier took it within the timeout; a `stop` (the daemon exiting) gives up at once."""
        targets = self._targets()
        if not len(targets):
            return False
        done: dict[str, bool] = {}

        def deliver() -> None:
            try:
                done["ok"] = bool(targets.notify(title=message.title, body=message.body,
                                                 attach=list(message.attach) or None))
            except Exception:
                log.exception("notification %r failed", message.title)
                done["ok"] = False

        thread = threading.Thread(target=deliver, name="pawpost-notify-send", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self.timeout
        while thread.is_alive() and time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            thread.join(min(0.2, max(0.0, deadline - time.monotonic())))
        if thread.is_alive():
            if stop is not None and stop.is_set():
                return False  # the caller keeps it for the next start
            log.warning("a notifier did not answer within %gs; %r was given up", self.timeout, message.title)
            return False
        if not done.get("ok"):
            log.warning("a notifier refused %r (see the lines above)", message.title)
        return bool(done.get("ok"))

    @property
    def in_flight(self) -> bool:
        """Whether a message is still being handed to a notifier (a send that was given up, or cut short)."""
        return self._thread is not None and self._thread.is_alive()


class NotifyWorker:
    """The daemon's notifier thread: one round every ROUND_SECONDS (see bot.daemon.threads)."""

    def __init__(self, config: Config, store: Callable[[], Store]) -> None:
        self.config = config
        self.store = store
        self.sender = Sender([u.get_secret_value() for u in config.notify.urls], config.notify.timeout_seconds)

    def round(self, stop: threading.Event) -> float:
        """Say what is new, after what an earlier round could not finish. Each message is kept (with the marks that
        made it, in one transaction) until it is delivered or given up; a stop leaves the rest for the next start."""
        store = self.store()
        with store.tx():
            queue = [Message.from_json(m) for m in store.get(keys.NOTIFY_PENDING) or []]
            queue += collect(store, self.config)
            store.put(keys.NOTIFY_PENDING, [m.to_json() for m in queue] or None)
        while queue and not stop.is_set():
            delivered = self.sender.send(queue[0], stop)
            if not delivered and stop.is_set():
                break  # cut short by the stop, not refused: it is sent again at the next start
            queue.pop(0)  # delivered, or refused or timed out (logged): never retried in a loop
            store.put(keys.NOTIFY_PENDING, [m.to_json() for m in queue] or None)
        return ROUND_SECONDS

    @property
    def in_flight(self) -> bool:
        return self.sender.in_flight
