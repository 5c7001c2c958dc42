"""A local model hub: an HTTP server answering the Hugging Face hub's endpoints that `snapshot_download` uses, for
models saved in local folders: the repository's revision (/api/models/ID/revision/REV), its file tree
(/api/models/ID/tree/REV), and each file (HEAD and GET /ID/resolve/REV/FILE, with the commit and ETag headers the
hub sends). huggingface_hub is pointed at it with HF_ENDPOINT; nothing else is faked.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


class FakeHub:
    """Serves `repos` ({hub id: folder}) as the hub does; counts the files fetched, by repository and name."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.commits = {repo: hashlib.sha1(repo.encode()).hexdigest() for repo in self.repos}
        self.fetched: Counter[tuple[str, str]] = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                outer._answer(self, body=False)

            def do_GET(self) -> None:
                outer._answer(self, body=True)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo: str) -> list[Path]:
        folder = self.repos[repo]
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def _repo_and_rest(self, parts: list[str]) -> tuple[str | None, list[str]]:
        for n in (2, 1):
            if "/".join(parts[:n]) in self.repos:
                return "/".join(parts[:n]), parts[n:]
        return None, parts

    def _answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = [unquote(p) for p in urlsplit(handler.path).path.strip("/").split("/")]
        if path[:2] == ["api", "models"]:
            repo, rest = self._repo_and_rest(path[2:])
            if repo is None:
                return self._send(handler, 404, {"error": "Repository not found"}, body,
                                  {"X-Error-Code": "RepoNotFound"})
            commit = self.commits[repo]
            if rest[:1] == ["revision"]:
                siblings = [{"rfilename": str(p.relative_to(self.repos[repo]))} for p in self.files(repo)]
                return self._send(handler, 200, {"id": repo, "modelId": repo, "sha": commit, "siblings": siblings,
                                                 "private": False}, body)
            if rest[:1] == ["tree"]:
                tree = [{"type": "file", "path": str(p.relative_to(self.repos[repo])), "size": p.stat().st_size,
                         "oid": self._etag(p)} for p in self.files(repo)]
                return self._send(handler, 200, tree, body)
        repo, rest = self._repo_and_rest(path)
        if repo is not None and rest[:1] == ["resolve"] and len(rest) >= 3:
            file = self.repos[repo].joinpath(*rest[2:])
            if file.is_file():
                data = file.read_bytes()
                if body:
                    self.fetched[(repo, "/".join(rest[2:]))] += 1
                handler.send_response(200)
                headers = {"X-Repo-Commit": self.commits[repo], "ETag": f'"{self._etag(file)}"',
                           "Content-Length": str(len(data)), "Content-Type": "application/octet-stream"}
                for key, value in headers.items():
                    handler.send_header(key, value)
                handler.end_headers()
                if body:
                    handler.wfile.write(data)
                return None
            return self._send(handler, 404, {"error": "Entry not found"}, body, {"X-Error-Code": "EntryNotFound"})
        return self._send(handler, 404, {"error": "Repository not found"}, body, {"X-Error-Code": "RepoNotFound"})

    @staticmethod
    def _etag(file: Path) -> str:
        return hashlib.sha1(file.read_bytes()).hexdigest()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any, body: bool,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if body:
            handler.wfile.write(data)
