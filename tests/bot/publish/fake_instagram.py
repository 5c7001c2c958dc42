"""A fake Instagram behind `responses`: the real instagrapi client talks to it over its real HTTP code path.

It keeps an account (session, feed, comments), answers the endpoints pawpost uses (CAA login, rupload, configure,
user feed, comments), counts what it received, and can be told to fail the next request to an endpoint.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from Cryptodome.Cipher import AES, PKCS1_v1_5
from Cryptodome.PublicKey import RSA

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


class Timeout:
    """A scripted answer: the request reaches Instagram (and takes effect when `lands`), the answer is lost."""

    def __init__(self, lands: bool) -> None:
        self.lands = lands


class Unreadable:
    """A scripted answer: the request takes effect (when `lands`), the 200 answer is not JSON (a proxy's page)."""

    def __init__(self, lands: bool) -> None:
        self.lands = lands


class FakeInstagram:
    def __init__(self, username: str = "lola.the.chihuahua", password: str = "correct horse battery",
                 user_id: int = 4242) -> None:
        self.username, self.password, self.user_id = username, password, user_id
        self.sessionid = f"{user_id}%3A{secrets.token_hex(12)}"
        self.media: list[dict[str, Any]] = []  # the feed, newest first
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.received: list[tuple[str, str]] = []  # (method, endpoint key)
        self.device_ids: list[str] = []  # X-IG-Device-ID of every authenticated request
        self.timeouts: list[Any] = []  # the HTTP timeout each request was sent with
        self.script: dict[str, list[Any]] = {}
        self.logins_rejected = False
        self.now: float | None = None  # the server's clock for taken_at (None: the real one)
        self._ids = itertools.count(3_100_000_000_000_000_001)

    # -- test controls -----------------------------------------------------------------------------

    def fail_next(self, key: str, *answers: Any) -> None:
        """Answer the next requests to `key` (configure, upload, feed, comment, login) with these, in order."""
        self.script.setdefault(key, []).extend(answers)

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
        self.received.append((request.method, key))
        self.timeouts.append(getattr(request, "req_kwargs", {}).get("timeout"))
        body = request.body.decode() if isinstance(request.body, bytes) and key != "upload" else request.body
        if self.script.get(key):
            answer = self.script[key].pop(0)
            if isinstance(answer, Timeout):
                if answer.lands and key == "configure":
                    self._configure(_signed(body))
                raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
            if isinstance(answer, Unreadable):
                if answer.lands and key == "configure":
                    self._configure(_signed(body))
                return 200, {"Content-Type": "text/html"}, "<html><body>upstream hiccup</body></html>"
            if isinstance(answer, Exception):
                raise answer
            status, payload = answer
            return status, {}, json.dumps(payload)
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
            return 200, {}, json.dumps({"upload_id": path.rsplit("/", 1)[-1].split("_")[0], "status": "ok"})
        if key == "configure":
            media = self._configure(_signed(body))
            return 200, {}, json.dumps({"media": media, "status": "ok"})
        if key == "feed":
            count = int(parse_qs(parts.query).get("count", ["33"])[0] or 33)
            return 200, {}, json.dumps({"items": self.media[:count], "num_results": min(count, len(self.media)),
                                        "more_available": len(self.media) > count, "status": "ok"})
        if key == "comment":
            media_id = path.split("/media/")[1].split("/")[0]
            text = _signed(body)["comment_text"]
            comment = {"pk": str(next(self._ids)), "text": text, "created_at_utc": int(time.time()),
                       "content_type": "comment", "status": "Active", "type": 0,
                       "user": {"pk": str(self.user_id), "username": self.username}}
            self.comments.setdefault(media_id, []).append(comment)
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
