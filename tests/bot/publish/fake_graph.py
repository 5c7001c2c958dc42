"""A fake Instagram Platform API (graph.instagram.com, Instagram Login) behind `responses`, written from Meta's
reference: /access_token, /refresh_access_token, /me, /{ig-user-id}/media (create and list), /{container-id}
(status_code), /{ig-user-id}/media_publish, /{ig-user-id}/content_publishing_limit, /{ig-media-id}/comments.
Carousels as the content publishing guide makes them: a child container per item (is_carousel_item=true, no
caption), a CAROUSEL container naming 2-10 finished children (caption), then media_publish of the carousel container
(a child is never published on its own); the post is a CAROUSEL_ALBUM with its children. A Reel: a REELS container
(video_url of a real MP4, cover_url, share_to_feed, caption) published as a VIDEO of product REELS. A container's
status checks answer IN_PROGRESS `in_progress_polls` times, then FINISHED (or `container_outcome`).

It keeps an account (tokens, containers, media newest first, comments, quota), fetches each container's image_url
through a `fetch` callable (the staging module, as a web server would), counts what it received, and can be told
to answer the next request to an endpoint differently: an error body, a lost answer, a refused connection.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

HOST = "https://graph.instagram.com"
CDN = "https://scontent.cdninstagram.com/v/fake"  # where media_url and thumbnail_url point (the account's photos)
PROFESSIONAL_ID = "17841400000000042"


def error(status: int, code: int, subcode: int | None = None, message: str = "An error occurred",
          user_msg: str = "", transient: bool = False) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient,
                            "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        body["error_subcode"] = subcode
    if user_msg:
        body["error_user_msg"] = user_msg
    return status, {"error": body}


EXPIRED_TOKEN = error(400, 190, 463, "Error validating access token: Session has expired.")
RATE_LIMIT = {code: error(400, code, None, "Application request limit reached") for code in (4, 17, 32, 613)}
QUOTA_SPENT = error(400, 9, 2207042, "Application request limit reached",
                    "You reached maximum number of posts that is allowed to be published by Content Publishing API.")
NOT_READY = error(400, 9007, 2207027, "Media ID is not available",
                  "The media is not ready for publishing, please wait for a moment")
BAD_RATIO = error(400, 36003, 2207009, "Invalid aspect ratio",
                  "The submitted image with aspect ratio ('3:1',) cannot be published.")
UNKNOWN_ERROR = error(500, 1, None, "An unknown error occurred", transient=True)
SERVER_PAGE = (502, "<html><body>Bad gateway</body></html>")


class Lost:
    """A scripted answer: the request reaches Instagram (and takes effect when `lands`), the answer never comes."""

    def __init__(self, lands: bool) -> None:
        self.lands = lands


class Refused:
    """A scripted answer: the connection is refused, the request never reaches Instagram."""


class FakeGraph:
    def __init__(self, fetch: Callable[[str], bytes | None] | None = None) -> None:
        self.fetch = fetch or (lambda _url: b"\xff\xd8jpeg")
        self.user_id = PROFESSIONAL_ID
        self.username = "lola.the.chihuahua"
        self.account_type = "BUSINESS"
        self.app_secret = "app-secret-0123456789"
        self.short_tokens = {"IGshort-token-abc"}
        self.tokens = {"IGlong-token-000"}
        self.expires_in = 5184000
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: list[dict[str, Any]] = []  # newest first
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.quota_usage, self.quota_total = 0, 100
        self.in_progress_polls = 0  # how many status checks answer IN_PROGRESS before FINISHED
        self.container_outcome: tuple[str, str] | None = None  # ("ERROR", "2207009 ...") instead of FINISHED
        self.now = time.time()
        self.calls: Counter[str] = Counter()
        self.published_by_container: Counter[str] = Counter()
        self.failures: dict[str, list[Any]] = {}
        self.cdn: dict[str, bytes] = {}  # media_url -> the photo, as Instagram's CDN serves it
        self.cdn_broken: set[str] = set()
        self._ids = itertools.count(18000000000000001)

    # -- wiring ----------------------------------------------------------------------------------------

    def install(self, rsps: Any) -> None:
        self.rsps = rsps  # tests add other hosts (the owner's proxy) to the same mock
        any_path = re.compile(re.escape(HOST) + r"/.*")
        for method in ("GET", "POST"):
            rsps.add_callback(method, any_path, callback=self._dispatch)
        rsps.add_callback("GET", re.compile(re.escape(CDN) + r"/.*"), callback=self._cdn)

    def fail_next(self, endpoint: str, answer: Any) -> None:
        """Answer the next request to `endpoint` with `answer` (after those already scripted; None: normally).
        Endpoints: create (a single photo's container), create_child, create_carousel, status, media_publish, ..."""
        self.failures.setdefault(endpoint, []).append(answer)

    def fail_nth(self, endpoint: str, n: int, answer: Any) -> None:
        """Answer the n-th (1-based) request to `endpoint` from now on with `answer`; the others normally."""
        queue = self.failures.setdefault(endpoint, [])
        queue.extend([None] * (n - len(queue)))
        queue[n - 1] = answer

    def count(self, endpoint: str) -> int:
        return self.calls[endpoint]

    def posts_per_caption(self) -> Counter[str]:
        return Counter(m["caption"] for m in self.media)

    def assert_exactly_once(self) -> None:
        """No draft's caption was published twice, and no container was published twice."""
        assert all(n <= 1 for n in self.posts_per_caption().values()), self.posts_per_caption()
        assert all(n <= 1 for n in self.published_by_container.values()), self.published_by_container

    def post_older(self, caption: str, when: float, *, image: bytes | None = None, media_type: str = "IMAGE",
                   children: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
        """A post the account made before (by hand): it proves a media list reaches back. `image`: the photo (a
        VIDEO's cover); `children`: an album's items as (media_type, image) pairs."""
        media = self._new_media(caption, when, image=image)
        media["media_type"] = media_type
        if children is not None:
            media["media_type"] = "CAROUSEL_ALBUM"
            media.pop("media_url", None)
            media["children"] = [self._child(kind, data) for kind, data in children]
        elif media_type == "VIDEO":
            media["thumbnail_url"] = media["media_url"].replace(".jpg", "-cover.jpg")
            if image is not None:
                self.cdn[media["thumbnail_url"]] = self.cdn.pop(media["media_url"])
            media["media_url"] = f"{CDN}/{media['id']}.mp4"
        self.media.sort(key=lambda m: m["_at"], reverse=True)
        return media

    def _child(self, media_type: str, image: bytes | None, alt_text: str | None = None) -> dict[str, Any]:
        child = {"id": str(next(self._ids)), "media_type": media_type, "image": image, "alt_text": alt_text}
        url = f"{CDN}/{child['id']}.jpg"
        if image is not None:
            self.cdn[url] = image
        if media_type == "VIDEO":
            child.update(media_url=f"{CDN}/{child['id']}.mp4", thumbnail_url=url)
        else:
            child["media_url"] = url
        return child

    def _cdn(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        url = request.url.split("?")[0]
        self.calls["cdn"] += 1
        if url in self.cdn_broken or url not in self.cdn:
            return 503, {}, b"busy"
        return 200, {"Content-Type": "image/jpeg"}, self.cdn[url]

    # -- dispatch --------------------------------------------------------------------------------------

    def _dispatch(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if request.body:
            body = request.body if isinstance(request.body, str) else request.body.decode()
            params.update({k: v[0] for k, v in parse_qs(body).items()})
        path = url.path.strip("/").split("/")
        if path and re.fullmatch(r"v\d+\.\d+", path[0]):
            path = path[1:]
        endpoint = self._endpoint(request.method, path, params)
        self.calls[endpoint] += 1
        scripted = self.failures.get(endpoint)
        answer = scripted.pop(0) if scripted else None
        if answer is not None:
            if isinstance(answer, Refused):
                from urllib3.exceptions import MaxRetryError, NewConnectionError

                raise requests.exceptions.ConnectionError(MaxRetryError(
                    None, request.url, NewConnectionError(None, "Failed to establish a new connection: refused")))
            if isinstance(answer, Lost):
                if answer.lands:
                    self._handle(endpoint, request.method, path, params)
                raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
            status, body = answer
            return status, {"Content-Type": "application/json" if isinstance(body, dict) else "text/html"}, (
                json.dumps(body) if isinstance(body, dict) else body)
        status, answer = self._handle(endpoint, request.method, path, params)
        return status, {"Content-Type": "application/json"}, json.dumps(answer)

    def _endpoint(self, method: str, path: list[str], params: dict[str, str] | None = None) -> str:
        if path == ["access_token"]:
            return "exchange"
        if path == ["refresh_access_token"]:
            return "refresh"
        if path == ["me"]:
            return "me"
        if len(path) == 2 and path[1] == "media":
            if method != "POST":
                return "media_list"
            params = params or {}
            if params.get("media_type") == "CAROUSEL":
                return "create_carousel"
            if params.get("media_type") == "REELS":
                return "create_reel"
            return "create_child" if params.get("is_carousel_item") == "true" else "create"
        if len(path) == 2 and path[1] in ("media_publish", "content_publishing_limit"):
            return path[1]
        if len(path) == 2 and path[1] == "comments":
            return "comment" if method == "POST" else "comments"
        if len(path) == 1:
            return "status" if path[0] in self.containers else "media"
        return "unknown"

    def _handle(self, endpoint: str, method: str, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if endpoint == "exchange":
            if p.get("grant_type") != "ig_exchange_token" or p.get("client_secret") != self.app_secret:
                return error(400, 101, None, "Error validating client secret.")
            if p.get("access_token") not in self.short_tokens:
                return EXPIRED_TOKEN
            return self._issue()
        token = p.get("access_token")
        if token not in self.tokens:
            return error(400, 190, None, "Invalid OAuth access token - Cannot parse access token")
        if endpoint == "refresh":
            if p.get("grant_type") != "ig_refresh_token":
                return error(400, 100, None, "Unsupported grant_type")
            self.tokens.discard(token)
            return self._issue()
        if endpoint == "me":
            return 200, {"user_id": self.user_id, "username": self.username, "account_type": self.account_type,
                         "id": "2600000000000001"}
        if endpoint in ("create", "create_child", "create_carousel", "create_reel", "media_list", "media_publish",
                        "content_publishing_limit") and path[0] not in (self.user_id, "me"):
            return error(400, 100, 33, "Unsupported request - object does not exist")
        return getattr(self, f"_{endpoint}")(path, p)

    def _issue(self) -> tuple[int, dict[str, Any]]:
        token = f"IGlong-token-{secrets.token_hex(6)}"
        self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}

    # -- publishing ------------------------------------------------------------------------------------

    def _create(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        url = p.get("image_url") or ""
        if not url.startswith("https://"):
            return error(400, 100, None, "The parameter image_url is required")
        image = self.fetch(url)
        if image is None:
            return error(400, 9004, 2207052, "The media could not be fetched from the URI",
                         "Media download has failed. The media URI doesn't meet our requirements.")
        container = str(next(self._ids))
        self.containers[container] = {"image_url": url, "image": image, "caption": p.get("caption", ""),
                                      "alt_text": p.get("alt_text"), "status_code": "IN_PROGRESS", "polls": 0,
                                      "carousel_item": p.get("is_carousel_item") == "true"}
        return 200, {"id": container}

    def _create_child(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if p.get("caption"):
            return error(400, 100, None, "Carousel items cannot have a caption")
        return self._create(path, p)

    def _create_carousel(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        children = [c for c in (p.get("children") or "").split(",") if c]
        if not 2 <= len(children) <= 10:
            return error(400, 100, None, "The carousel must have between 2 and 10 children")
        for child in children:
            c = self.containers.get(child)
            if c is None or not c["carousel_item"]:
                return error(400, 100, 2207006, f"The media with id {child} is not a carousel item")
            if c["status_code"] != "FINISHED":
                return NOT_READY
        container = str(next(self._ids))
        self.containers[container] = {"children": children, "caption": p.get("caption", ""), "alt_text": None,
                                      "status_code": "IN_PROGRESS", "polls": 0, "carousel_item": False}
        return 200, {"id": container}

    def _create_reel(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        url = p.get("video_url") or ""
        if not url.startswith("https://"):
            return error(400, 100, None, "The parameter video_url is required")
        video = self.fetch(url)
        cover = self.fetch(p["cover_url"]) if p.get("cover_url") else None
        if video is None or (p.get("cover_url") and cover is None):
            return error(400, 9004, 2207052, "The media could not be fetched from the URI",
                         "Media download has failed. The media URI doesn't meet our requirements.")
        if video[4:8] != b"ftyp":
            return error(400, 352, 2207026, "The video format is not supported",
                         "The video format is not supported. Please check spec for supported formats")
        container = str(next(self._ids))
        self.containers[container] = {"video_url": url, "video": video, "cover": cover, "caption": p.get("caption", ""),
                                      "share_to_feed": p.get("share_to_feed"), "alt_text": None, "reel": True,
                                      "status_code": "IN_PROGRESS", "polls": 0, "carousel_item": False}
        return 200, {"id": container}

    def _status(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        c = self.containers[path[0]]
        if c["status_code"] == "IN_PROGRESS":
            c["polls"] += 1
            if c["polls"] > self.in_progress_polls:
                if self.container_outcome is not None:
                    c["status_code"], c["status"] = self.container_outcome
                else:
                    c["status_code"], c["status"] = "FINISHED", "Finished: Media has been uploaded and it is ready"
        return 200, {"status_code": c["status_code"], "status": c.get("status", "In Progress"), "id": path[0]}

    def _media_publish(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        c = self.containers.get(p.get("creation_id", ""))
        if c is None:
            return error(400, 24, 2207006, "The media with id is not found")
        if c["status_code"] == "PUBLISHED":
            return error(400, 24, 2207006, "The media is already published")  # never a second post
        if c["carousel_item"]:
            return error(400, 100, None, "A carousel item cannot be published on its own")
        if c["status_code"] != "FINISHED":
            return NOT_READY
        if self.quota_usage >= self.quota_total:
            return QUOTA_SPENT
        c["status_code"] = "PUBLISHED"
        self.quota_usage += 1
        self.published_by_container[p["creation_id"]] += 1
        media = self._new_media(c["caption"], self.now, alt_text=c["alt_text"], image=c.get("image"))
        if c.get("reel"):
            media.update(media_type="VIDEO", media_product_type="REELS", video=c["video"], cover=c["cover"],
                         permalink=f"https://www.instagram.com/reel/{media['shortcode']}/")
        if "children" in c:
            media["media_type"] = "CAROUSEL_ALBUM"
            media.pop("media_url", None)
            media["children"] = [self._child("IMAGE", self.containers[child]["image"],
                                             self.containers[child]["alt_text"]) for child in c["children"]]
        return 200, {"id": media["id"]}

    def _new_media(self, caption: str, when: float, alt_text: str | None = None,
                   image: bytes | None = None) -> dict[str, Any]:
        media_id = str(next(self._ids))
        code = "C" + secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")
        media = {"id": media_id, "caption": caption, "shortcode": code, "alt_text": alt_text, "media_type": "IMAGE",
                 "permalink": f"https://www.instagram.com/p/{code}/", "_at": when,
                 "media_url": f"{CDN}/{media_id}.jpg",
                 "timestamp": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")}
        if image is not None:
            self.cdn[media["media_url"]] = image
        self.media.insert(0, media)
        return media

    def _media(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        media = next((m for m in self.media if m["id"] == path[0]), None)
        if media is None:
            return error(400, 100, 33, "Unsupported get request. Object does not exist")
        return 200, self._fields(media, p)

    def _media_list(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Newest first, `limit` (at most 100) a page; cursor-based paging as the Graph API pages edges: `after`
        continues after a page, and `paging.next` is there only when another page follows."""
        limit = min(int(p.get("limit", 25)), 100)
        start = int(p["after"].removeprefix("QVFI")) if p.get("after") else 0
        page = self.media[start:start + limit]
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": f"QVFI{start}", "after": f"QVFI{start + len(page)}"}
            if start + len(page) < len(self.media):
                paging["next"] = (f"{HOST}/{self.user_id}/media?access_token={p.get('access_token')}"
                                  f"&limit={limit}&after=QVFI{start + len(page)}")
        return 200, {"data": [self._fields(m, p) for m in page], "paging": paging}

    @classmethod
    def _fields(cls, media: dict[str, Any], p: dict[str, str] | str) -> dict[str, Any]:
        """The fields asked for, with the Graph API's field expansion: `children{id,media_url}` lists each child's
        fields (a plain `children` only their ids)."""
        wanted = (p if isinstance(p, str) else p.get("fields") or "id")
        out: dict[str, Any] = {}
        for name, nested in re.findall(r"(\w+)(?:\{([^}]*)\})?", wanted):
            if name == "children" and isinstance(media.get("children"), list):
                out["children"] = {"data": [cls._fields(c, nested or "id") for c in media["children"]]}
            elif name in media:
                out[name] = media[name]
        return out

    def _content_publishing_limit(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {"data": [{"quota_usage": self.quota_usage,
                               "config": {"quota_total": self.quota_total, "quota_duration": 86400}}]}

    def _comment(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not any(m["id"] == path[0] for m in self.media):
            return error(400, 100, 33, "Object does not exist")
        comment = {"id": str(next(self._ids)), "text": p.get("message", ""), "username": self.username}
        self.comments.setdefault(path[0], []).append(comment)
        return 200, {"id": comment["id"]}

    def _comments(self, path: list[str], p: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {"data": list(self.comments.get(path[0], []))}


# -- shared by the graph tests (fixtures in conftest.py) ---------------------------------------------------------

PUBLIC = "https://pets.example.com/staged"


def graph_home(tmp_path: Path, **instagram: Any) -> Path:
    """A pawpost home with publisher = "graph" and a UTC schedule (09:30, 19:00)."""
    from tests.conftest import write_config

    root = tmp_path / "graph"
    write_config(root, {
        "instagram": {"publisher": "graph", "cooldown_hours": 6, **instagram},
        "graph": {"public_base_url": PUBLIC},
        "schedule": {"timezone": "UTC", "slots": ["09:30", "19:00"], "jitter_minutes": 0, "max_posts_per_day": 2,
                     "catch_up_minutes": 60},
    })
    return root


def serve_staged(config: Any) -> Callable[[str], bytes | None]:
    """What the owner's proxy in front of pawpost's web server does: public_base_url/<name> -> the review site's
    /staged/<name> route (bot.web.staged), as Instagram would fetch it: no login, a public host name."""
    from starlette.testclient import TestClient

    from bot.publish.staging import MOUNT
    from bot.web.routes import create_app

    site = TestClient(create_app(config, login=True), base_url=PUBLIC.removesuffix(MOUNT))

    def fetch(url: str) -> bytes | None:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}{MOUNT}" != PUBLIC:
            return None
        answer = site.get(parts.path)
        if answer.status_code != 200 or answer.headers.get("content-type") not in ("image/jpeg", "video/mp4"):
            return None
        return answer.content

    return fetch
