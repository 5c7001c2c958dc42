"""`pawpost web` as the owner starts it: a busy port is refused before the site claims to be up."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import run_cli, write_config


def test_a_second_web_on_a_busy_port_fails_without_claiming_the_site(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "p", {"web": {"listen": f"127.0.0.1:{port}"}})

        result = run_cli("web", config=config, timeout=60)

    assert result.returncode == 1
    assert "already in use" in result.stderr
    assert "review site on" not in result.stderr + result.stdout
