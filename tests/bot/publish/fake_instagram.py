"""A fault-injecting fake Instagram behind `responses`: the real instagrapi client talks to it over its real HTTP
code path.

It keeps an account (session, feed, comments), answers the endpoints pawpost uses (CAA login, rupload, configure,
configure_sidecar for a carousel of uploaded photos; a Reel's upload_settings, video rupload (video_init, then
upload_video) and configure_to_clips (configure_clip) of an uploaded video and cover, with `transcoding` answers of
"Transcode not finished yet" first; user feed, comments) and counts what it received. Any request
to any endpoint, at any step of any attempt, can be scripted (`fail_next`, `fail_nth`): any status with any body, a
failure before the request is sent (DNS, refused connection, TLS), or after it took effect (read timeout, reset, a
SIGKILL of the client, a hang). The feed can lag (`lag`), and the account can live in a file (`state`) shared by
several processes.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from Cryptodome.Cipher import AES, PKCS1_v1_5
from Cryptodome.PublicKey import RSA

from tests.bot.publish.fake_answers import (
    Answer,
    Hang,
    Kill,
    Lost,
    NotSent,
    Timeout,
    Unreadable,
    after_send,
    before_send,
)

__all__ = ["CHALLENGE", "FEEDBACK_REQUIRED", "LOGIN_REQUIRED", "SERVER_ERROR", "TOO_MANY", "Answer", "FakeInstagram",
           "Hang", "Kill", "Lost", "NotSent", "Timeout", "Unreadable"]

URL = re.compile(r"https://([a-z0-9-]+\.)*instagram\.com/.*")
KEY = RSA.generate(1024)
KEY_ID = 41

LOGIN_REQUIRED = (403, {"message": "login_required", "error_title": "You've Been Logged Out",
                        "logout_reason": 8, "status": "fail"})
FEEDBACK_REQUIRED = (400, {"message": "feedback_required", "spam": True, "feedback_title": "Try Again Later",
                           "feedback_message": "We restrict certain activity to protect our community.",
                           "status": "fail"})
TOO_MANY = (429, {"message": "Please wait a few minutes before you try again.", "status": "fail"})
CHALLENGE = (400, {"message": "challenge_required", "challenge": {
    "url": "https://i.instagram.com/challenge/4242/AbCdEf/", "api_path": "/challenge/4242/AbCdEf/",
    "hide_webview_header": True, "lock": True, "logout": False, "native_flow": True}, "status": "fail"})
SERVER_ERROR = (500, {"message": "Oops, an error occurred.", "status": "fail"})


class FakeInstagram:
    def __init__(self, username: str = "lola.the.chihuahua", password: str = "correct horse battery",
                 user_id: int = 4242, state: Path | None = None) -> None:
        self.username, self.password, self.user_id = username, password, user_id
        self.sessionid = f"{user_id}%3A{secrets.token_hex(12)}"
        self.media: list[dict[str, Any]] = []  # the feed, newest first
        self.uploads: dict[str, int] = {}  # upload_id -> bytes received (a carousel's children must be uploaded)
        self.videos: dict[str, str] = {}  # upload_id -> the uploaded video's sha256 (a Reel needs its video)
        self.transcoding = 0  # how many configure_to_clips requests meet "Transcode not finished yet" first
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.received: list[tuple[str, str]] = []  # (method, endpoint key)
        self.device_ids: list[str] = []  # X-IG-Device-ID of every authenticated request
        self.timeouts: list[Any] = []  # the HTTP timeout each request was sent with
        self.script: dict[str, list[Any]] = {}
        self.logins_rejected = False
        self.now: float | None = None  # the server's clock for taken_at (None: the real one)
        self.lag: float = 0.0  # seconds a new post stays out of the feed (float('inf'): it never shows)
        self._ids = itertools.count(3_100_000_000_000_000_001)
        self.state = Path(state) if state else None
        if self.state is not None and self.state.exists():
            self.load()

    # -- test controls -----------------------------------------------------------------------------

    def fail_next(self, key: str, *answers: Any) -> None:
        """Answer the next requests to `key` (configure, upload, feed, comment, login) with these, in order
        (None: answer that one normally)."""
        self.script.setdefault(key, []).extend(answers)

    def fail_nth(self, key: str, n: int, answer: Any) -> None:
        """Answer the n-th (1-based) request to `key` from now on with `answer`; the others normally."""
        queue = self.script.setdefault(key, [])
        queue.extend([None] * (n - len(queue)))
        queue[n - 1] = answer

    def posts_with(self, caption: str) -> int:
        """How many posts on the account carry this caption: a configure that created a post made one."""
        return sum(1 for m in self.media if (m.get("caption") or {}).get("text") == caption)

    def created(self) -> Counter[str]:
        """Posts created, by caption (every configure that took effect, whatever its answer)."""
        return Counter((m.get("caption") or {}).get("text", "") for m in self.media)

    # -- an account shared by processes -------------------------------------------------------------

    def save(self) -> None:
        if self.state is None:
            return
        data = {"media": self.media, "comments": self.comments, "received": self.received,
                "sessionid": self.sessionid, "next_id": next(self._ids), "uploads": self.uploads,
                "videos": self.videos}
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.state)
        self._ids = itertools.count(data["next_id"])

    def load(self) -> None:
        assert self.state is not None
        data = json.loads(self.state.read_text())
        self.media, self.comments, self.sessionid = data["media"], data["comments"], data["sessionid"]
        self.received = [tuple(r) for r in data["received"]]
        self.uploads = data.get("uploads", {})
        self.videos = data.get("videos", {})
        self._ids = itertools.count(data["next_id"])

    def expire_session(self) -> None:
        """Instagram logs the session out: every request with the old session gets login_required."""
        self.sessionid = f"{self.user_id}%3A{secrets.token_hex(12)}"

    def count(self, key: str) -> int:
        return Counter(k for _, k in self.received)[key]

    def install(self, rsps: Any) -> None:
        for method in ("GET", "POST"):
            rsps.add_callback(method, URL, callback=self._handle)

    # -- the server --------------------------------------------------------------------------------

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        path = parts.path
        key = _key(path)
        if key == "upload_video" and request.method == "GET":
            key = "video_init"  # the rupload's announcement, before its bytes
        self.received.append((request.method, key))
        self.timeouts.append(getattr(request, "req_kwargs", {}).get("timeout"))
        binary = key in ("upload", "upload_video")
        body = request.body.decode() if isinstance(request.body, bytes) and not binary else request.body
        answer = self.script[key].pop(0) if self.script.get(key) else None
        self.save()
        if answer is not None:
            return self._scripted(key, answer, request, body)
        return self._answer(key, request, parts, body)

    def _scripted(self, key: str, answer: Any, request: Any, body: Any) -> tuple[int, dict[str, str], str]:
        if isinstance(answer, NotSent):
            self.received.pop()  # it never arrived
            self.save()
            raise before_send(answer.how)
        if getattr(answer, "lands", False):
            self._effect(key, request, body)
        if isinstance(answer, Timeout):
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
        if isinstance(answer, Lost):
            raise after_send(answer.how)
        if isinstance(answer, Kill):
            os.kill(os.getpid(), signal.SIGKILL)
        if isinstance(answer, Hang):
            if answer.started is not None:
                answer.started.write_text("in configure")
            while not answer.release.exists():
                _real_sleep(0.05)
            if answer.lands and key in ("configure", "configure_sidecar", "configure_clip"):
                return 200, {}, json.dumps({"media": self.media[0], "status": "ok"})
            return self._answer(key, request, urlsplit(request.url), body)
        if isinstance(answer, Unreadable):
            return 200, {"Content-Type": "text/html"}, "<html><body>upstream hiccup</body></html>"
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, Answer):
            text = json.dumps(answer.body) if isinstance(answer.body, dict) else answer.body
            return answer.status, answer.headers, text
        status, payload = answer
        return status, {}, json.dumps(payload)

    def _effect(self, key: str, request: Any, body: Any) -> None:
        """What a request does to the account, answered or not."""
        if key == "upload":
            self._upload(urlsplit(request.url).path, body)
        elif key == "configure":
            self._configure(_signed(body))
        elif key == "configure_sidecar":
            self._configure_sidecar(_signed(body))
        elif key == "upload_video":
            self._upload_video(request, body)
        elif key == "configure_clip":
            self._configure_clip(_signed(body))
        elif key == "comment":
            self._comment(request.url, body)
        self.save()

    def _answer(self, key: str, request: Any, parts: Any, body: Any) -> tuple[int, dict[str, str], str]:
        path = parts.path
        if key == "qe_sync":
            pem = KEY.publickey().export_key()
            return 200, {"ig-set-password-encryption-key-id": str(KEY_ID),
                         "ig-set-password-encryption-pub-key": base64.b64encode(pem).decode()}, "{}"
        if key in ("usdid", "process_client_data", "attestation", "oauth_token", "login"):
            return self._login_step(key, body)
        if not self._authorized(request):
            status, payload = LOGIN_REQUIRED
            return status, {}, json.dumps(payload)
        self.device_ids.append(request.headers.get("X-IG-Device-ID", ""))
        if key == "upload":
            upload_id = self._upload(path, body)
            self.save()
            return 200, {}, json.dumps({"upload_id": upload_id, "status": "ok"})
        if key == "configure_sidecar":
            media = self._configure_sidecar(_signed(body))
            self.save()
            if media is None:
                return 400, {}, json.dumps({"message": "media_needs_reupload", "error_title": "Upload missing",
                                            "status": "fail"})
            return 200, {}, json.dumps({"media": media, "status": "ok"})
        if key == "configure":
            media = self._configure(_signed(body))
            self.save()
            return 200, {}, json.dumps({"media": media, "status": "ok"})
        if key == "upload_video":
            upload_id = self._upload_video(request, body)
            self.save()
            return 200, {}, json.dumps({"upload_id": upload_id, "status": "ok"})
        if key == "configure_clip":
            if self.transcoding > 0:
                self.transcoding -= 1
                self.save()
                return 202, {}, json.dumps({"message": "Transcode not finished yet.", "status": "fail"})
            media = self._configure_clip(_signed(body))
            self.save()
            if media is None:
                return 400, {}, json.dumps({"message": "media_needs_reupload", "error_title": "Upload missing",
                                            "status": "fail"})
            return 200, {}, json.dumps({"media": media, "status": "ok"})
        if key == "feed":
            count = int(parse_qs(parts.query).get("count", ["33"])[0] or 33)
            now = self.now or time.time()
            shown = [m for m in self.media if m["taken_at"] <= now - self.lag] if self.lag else self.media
            return 200, {}, json.dumps({"items": shown[:count], "num_results": min(count, len(shown)),
                                        "more_available": len(shown) > count, "status": "ok"})
        if key == "comment":
            comment = self._comment(request.url, body)
            self.save()
            return 200, {}, json.dumps({"comment": comment, "status": "ok"})
        if key == "current_user":
            return 200, {}, json.dumps({"user": {
                "pk": self.user_id, "username": self.username, "full_name": "Lola", "is_private": False,
                "profile_pic_url": "https://scontent.cdninstagram.com/lola.jpg", "is_verified": False,
                "is_business": False, "biography": "a tiny fawn chihuahua"}, "status": "ok"})
        if key == "comments":
            media_id = path.split("/media/")[1].split("/")[0]
            return 200, {}, json.dumps({"comments": self.comments.get(media_id, []), "comment_count":
                                        len(self.comments.get(media_id, [])), "has_more_comments": False,
                                        "status": "ok"})
        return 200, {}, json.dumps({"status": "ok"})

    def _comment(self, url: str, body: Any) -> dict[str, Any]:
        media_id = urlsplit(url).path.split("/media/")[1].split("/")[0]
        text = _signed(body)["comment_text"]
        comment = {"pk": str(next(self._ids)), "text": text, "created_at_utc": int(time.time()),
                   "content_type": "comment", "status": "Active", "type": 0,
                   "user": {"pk": str(self.user_id), "username": self.username}}
        self.comments.setdefault(media_id, []).append(comment)
        return comment

    def _configure(self, data: dict[str, Any]) -> dict[str, Any]:
        pk = next(self._ids)
        code = base64.urlsafe_b64encode(pk.to_bytes(8, "big")).decode().rstrip("=")[:11]
        media = {"pk": pk, "id": f"{pk}_{self.user_id}", "code": code, "media_type": 1,
                 "taken_at": int(self.now or time.time()), "caption": {"text": data.get("caption", "")},
                 "user": {"pk": str(self.user_id), "username": self.username},
                 "image_versions2": {"candidates": [{"width": 1080, "height": 1350,
                                                     "url": f"https://scontent.cdninstagram.com/{code}.jpg"}]},
                 "like_count": 0, "comment_count": 0}
        self.media.insert(0, media)
        return media

    def _upload(self, path: str, body: Any) -> str:
        upload_id = path.rsplit("/", 1)[-1].split("_")[0]
        self.uploads[upload_id] = len(body or b"")
        return upload_id

    def _configure_sidecar(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """A carousel post (media_type 8) from its children's uploads, in order; None when a child was never
        uploaded (Instagram refuses it: nothing is posted)."""
        children = data.get("children_metadata") or []
        if not 2 <= len(children) <= 10 or any(str(c.get("upload_id")) not in self.uploads for c in children):
            return None
        media = self._configure({"caption": data.get("caption", "")})
        media["media_type"] = 8
        media["carousel_media_count"] = len(children)
        media["carousel_media"] = [
            {"pk": next(self._ids), "media_type": 1, "upload_id": str(c["upload_id"]),
             "accessibility_caption": c.get("custom_accessibility_caption"), "carousel_parent_id": media["id"]}
            for c in children]
        return media

    def _upload_video(self, request: Any, body: Any) -> str:
        """A Reel's video bytes, named by the upload id in the rupload parameters; only a real MP4 counts."""
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params") or "{}")
        upload_id = str(params.get("upload_id") or "")
        data = body if isinstance(body, bytes) else b""
        if upload_id and data[4:8] == b"ftyp":
            self.videos[upload_id] = hashlib.sha256(data).hexdigest()
        return upload_id

    def _configure_clip(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """A Reel (media_type 2, product clips) from its uploaded video and cover; None when either was never
        uploaded (Instagram refuses it: nothing is posted)."""
        upload_id = str(data.get("upload_id") or "")
        if upload_id not in self.videos or upload_id not in self.uploads:
            return None
        media = self._configure({"caption": data.get("caption", "")})
        media.update(media_type=2, product_type="clips", video_duration=float(data.get("length") or 0),
                     video_sha256=self.videos[upload_id], clips_share_preview_to_feed=data.get(
                         "clips_share_preview_to_feed"), accessibility_caption=data.get("custom_accessibility_caption"))
        return media

    def _login_step(self, key: str, body: Any) -> tuple[int, dict[str, str], str]:
        if key == "usdid":
            return 200, {}, json.dumps({"data": {"usdid_registration": {"success": True}}})
        if key == "process_client_data":
            return 200, {}, json.dumps({"layout": {"bloks_payload": {"data": [
                {"data": {"key": "CAA_ACCOUNT_ACCESS_CONTEXT:aac", "initial": "AAC-FAKE"}}]}}, "status": "ok"})
        if key == "attestation":
            return 200, {}, json.dumps({"challenge_nonce": "nonce-c", "key_nonce": "nonce-k", "status": "ok"})
        if key == "oauth_token":
            return 200, {}, json.dumps({"status": "ok"})
        params = json.loads(parse_qs(body)["params"][0])
        password = _decrypt(params["client_input_params"]["password"])
        if password != self.password or self.logins_rejected:
            return 400, {}, json.dumps({"message": "The password you entered is incorrect.",
                                        "error_type": "bad_password", "status": "fail"})
        auth = base64.b64encode(json.dumps({"ds_user_id": str(self.user_id),
                                            "sessionid": self.sessionid}).encode()).decode()
        raw = {
            "login_response": json.dumps({"logged_in_user": {"pk": self.user_id, "username": self.username},
                                          "status": "ok"}),
            "headers": json.dumps({"IG-Set-Authorization": f"Bearer IGT:2:{auth}",
                                   "ig-set-ig-u-rur": "RVA,4242,1999999999:01f7"}),
            "cookies": f"Set-Cookie: sessionid={self.sessionid}; Path=/; Secure; HttpOnly",
        }
        action = f"(bk.action.caa.HandleLoginResponse, {json.dumps(json.dumps(raw))})"
        return 200, {}, json.dumps({"layout": {"bloks_payload": {"action": action}}, "status": "ok"})

    def _authorized(self, request: Any) -> bool:
        header = request.headers.get("Authorization", "")
        try:
            data = json.loads(base64.b64decode(header.rsplit(":", 1)[-1]))
        except (ValueError, TypeError):
            return False
        return isinstance(data, dict) and data.get("sessionid") == self.sessionid


_real_sleep = time.sleep  # tests patch time.sleep; a Hang still waits for real


def _key(path: str) -> str:
    routes: list[tuple[str, Callable[[str], bool]]] = [
        ("qe_sync", lambda p: p.endswith("/qe/sync/")),
        ("usdid", lambda p: p.endswith("/graphql_www")),
        ("process_client_data", lambda p: "process_client_data_and_redirect" in p),
        ("attestation", lambda p: "attestation/create_android_keystore" in p),
        ("oauth_token", lambda p: "login.oauth.token.fetch" in p),
        ("login", lambda p: "caa.login.async.send_login_request" in p),
        ("upload", lambda p: p.startswith("/rupload_igphoto/")),
        ("configure", lambda p: p.endswith("/media/configure/")),
        ("configure_sidecar", lambda p: p.endswith("/media/configure_sidecar/")),
        ("upload_settings", lambda p: p.startswith("/upload_settings/")),
        ("upload_video", lambda p: p.startswith("/rupload_igvideo/")),
        ("configure_clip", lambda p: p.endswith("/media/configure_to_clips/")),
        ("feed", lambda p: "/feed/user/" in p),
        ("comment", lambda p: re.search(r"/media/[^/]+/comment/$", p) is not None),
        ("comments", lambda p: re.search(r"/media/[^/]+/comments/$", p) is not None),
        ("current_user", lambda p: p.endswith("/accounts/current_user/")),
    ]
    return next((name for name, match in routes if match(path)), path)


def _signed(body: Any) -> dict[str, Any]:
    """The JSON inside instagrapi's `signed_body=SIGNATURE.{...}` form body."""
    form = parse_qs(body if isinstance(body, str) else body.decode())
    signed = form.get("signed_body", [""])[0]
    return json.loads(signed.split(".", 1)[1]) if "." in signed else {k: v[0] for k, v in form.items()}


def _decrypt(enc: str) -> str:
    """Undo instagrapi's password_encrypt (#PWD_INSTAGRAM:4:time:payload) with the fake's private key."""
    _, _, timestamp, payload = enc.split(":", 3)
    raw = base64.b64decode(payload)
    size = int.from_bytes(raw[14:16], "little")
    iv, rsa_part = raw[2:14], raw[16:16 + size]
    tag, aes_part = raw[16 + size:32 + size], raw[32 + size:]
    session_key = PKCS1_v1_5.new(KEY).decrypt(rsa_part, None)
    cipher = AES.new(session_key, AES.MODE_GCM, iv)
    cipher.update(timestamp.encode())
    return cipher.decrypt_and_verify(aes_part, tag).decode()
