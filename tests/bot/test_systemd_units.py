"""The unit files in systemd/: they pass `systemd-analyze verify`, keep a low exposure score, and say what they must.

verify needs ExecStart's binary to exist, so it checks copies with /opt/pawpost/bin/pawpost replaced by this venv's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

UNITS = REPO / "systemd"
INSTALLED_BINARY = "/opt/pawpost/bin/pawpost"
SERVICES = ["pawpost.service", "pawpost@.service", "pawpost-retrain.service", "pawpost-retrain@.service"]
TIMERS = ["pawpost-retrain.timer", "pawpost-retrain@.timer"]
MAX_EXPOSURE = 3.0

analyze = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(analyze is None, reason="systemd-analyze is not installed (apt install systemd)")


def directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in order; systemd allows a key more than once, so no dict."""
    out, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(name: str, key: str) -> list[str]:
    return [v for _, k, v in directives((UNITS / name).read_text()) if k == key]


def local_copies(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this checkout's pawpost, so verify finds an executable."""
    binary = Path(sys.executable).parent / "pawpost"
    command = str(binary) if binary.exists() else f"{sys.executable} -m bot"
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in UNITS.iterdir():
        (folder / unit.name).write_text(unit.read_text().replace(INSTALLED_BINARY, command))
    return folder


def verify(folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    # A template is verified through an instance of it, as systemd would load it.
    paths = [str(folder / n.replace("@.", "@lola.")) for n in names]
    return subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60, cwd=folder)


def exposure(folder: Path, name: str) -> tuple[float, str]:
    result = subprocess.run([analyze, "security", "--offline=true", str(folder / name)], capture_output=True,
                            text=True, timeout=60, cwd=folder)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1)), match.group(2)


def test_every_unit_is_accounted_for() -> None:
    assert sorted(p.name for p in UNITS.iterdir()) == sorted(SERVICES + TIMERS)


@needs_analyze
@pytest.mark.parametrize("name", SERVICES + TIMERS)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    result = verify(local_copies(tmp_path), name)
    # verify exits 0 even when it ignores a line it cannot parse; any output at all is a problem.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@needs_analyze
def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    folder = local_copies(tmp_path)
    unit = folder / "pawpost.service"
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    result = verify(folder, "pawpost.service")
    assert "restart specifier" in result.stdout + result.stderr


@needs_analyze
@pytest.mark.parametrize("name", ["pawpost.service", "pawpost@.service", "pawpost-retrain.service"])
def test_security_exposure_is_ok(tmp_path: Path, name: str) -> None:
    score, verdict = exposure(local_copies(tmp_path), name)
    assert score < MAX_EXPOSURE and verdict == "OK", f"{name}: exposure {score} {verdict}"


@needs_analyze
@pytest.mark.parametrize("name", TIMERS)
def test_timer_calendar_is_valid(name: str) -> None:
    (spec,) = values(name, "OnCalendar")
    result = subprocess.run([analyze, "calendar", spec], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_the_daemon_unit_is_a_watched_notify_service_of_an_unprivileged_user() -> None:
    for name in ("pawpost.service", "pawpost@.service"):
        assert values(name, "Type") == ["notify"]
        assert values(name, "Restart") == ["on-failure"]
        assert values(name, "WatchdogSec")
        assert values(name, "User") == ["pawpost"]
        assert values(name, "ExecStart")[0].endswith(" run")
        assert values(name, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert "--config /etc/pawpost/pawpost.toml" in values("pawpost.service", "ExecStart")[0]
    assert "--config /etc/pawpost/%i.toml" in values("pawpost@.service", "ExecStart")[0]
    assert values("pawpost@.service", "StateDirectory") == ["pawpost/%i"]
    assert values("pawpost@.service", "WorkingDirectory") == ["%S/pawpost/%i"]


def test_gpu_devices_are_allowed_and_nothing_else() -> None:
    assert values("pawpost.service", "DevicePolicy") == ["closed"]
    allowed = {v.split()[0] for v in values("pawpost.service", "DeviceAllow")}
    assert {"char-nvidia-frontend", "char-nvidia-uvm"} <= allowed
    assert all("nvidia" in d for d in allowed)


def test_settings_pytorch_needs_off_are_off_and_explained() -> None:
    text = (UNITS / "pawpost.service").read_text()
    for key in ("MemoryDenyWriteExecute", "PrivateDevices", "ProcSubset"):
        lines = text.splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
        assert lines[index].split("=", 1)[1] in ("no", "all")
        above = index
        while above > 0 and lines[above - 1].startswith("#"):
            above -= 1
        comment = " ".join(lines[above:index])
        assert len(comment) > 40, f"{key} is off without a comment saying why"


def test_every_service_has_the_same_sandbox() -> None:
    def sandbox(name: str) -> list[tuple[str, str, str]]:
        text = (UNITS / name).read_text()
        return directives("\n" + text.split("# --- Sandbox", 1)[1].split("[Install]")[0])

    first = sandbox(SERVICES[0])
    assert ("", "ProtectSystem", "strict") in first
    assert ("", "CapabilityBoundingSet", "") in first
    for name in SERVICES[1:]:
        assert sandbox(name) == first, f"{name}'s sandbox differs from {SERVICES[0]}'s"


def test_retraining_is_a_low_priority_weekly_oneshot() -> None:
    for name in ("pawpost-retrain.service", "pawpost-retrain@.service"):
        assert values(name, "Type") == ["oneshot"]
        assert values(name, "Nice") == ["19"]
        assert values(name, "IOSchedulingClass") == ["idle"]
        assert values(name, "CPUSchedulingPolicy") == ["batch"]
        assert values(name, "ExecStart")[0].endswith(" retrain")
    for name in TIMERS:
        assert values(name, "Persistent") == ["true"]
        assert values(name, "RandomizedDelaySec")
        assert values(name, "WantedBy") == ["timers.target"]


# -- `pawpost doctor`: the installed unit and the data folder -------------------------------------------------

needs_systemctl = pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl is not installed")


def messages(checks: list[Any]) -> dict[str, tuple[bool, bool, str]]:
    return {c.name: (c.ok, c.warning, c.message) for c in checks}


@needs_systemctl
def test_doctor_says_when_the_unit_is_not_installed(config: Any, tmp_path: Path) -> None:
    from bot.doctor import check_service

    found = messages(list(check_service(config, root=tmp_path)))
    ok, warning, message = found["service"]
    assert ok and warning and "pawpost.service is not installed" in message


@needs_systemctl
def test_doctor_sees_the_installed_and_enabled_units(config: Any, tmp_path: Path) -> None:
    from bot.doctor import check_service

    system = tmp_path / "etc" / "systemd" / "system"
    system.mkdir(parents=True)
    for unit in UNITS.iterdir():
        shutil.copy(unit, system / unit.name)
    enable = subprocess.run(["systemctl", f"--root={tmp_path}", "enable", "pawpost.service"], capture_output=True,
                            text=True, timeout=30)
    assert enable.returncode == 0, enable.stderr
    found = messages(list(check_service(config, root=tmp_path)))
    assert found["service"][0] and "pawpost.service is installed (enabled)" in found["service"][2]
    assert "not enabled" in found["retrain timer"][2]  # the [Install] section of the timer was not used yet

    subprocess.run(["systemctl", f"--root={tmp_path}", "enable", "pawpost-retrain.timer"], check=True,
                   capture_output=True, timeout=30)
    found = messages(list(check_service(config, root=tmp_path)))
    assert found["retrain timer"] == (True, False, "pawpost-retrain.timer is enabled")


def test_a_config_in_etc_pawpost_belongs_to_its_template_instance(config: Any) -> None:
    from bot.doctor import service_unit

    assert service_unit(config) == "pawpost.service"
    config.source = Path("/etc/pawpost/lola.toml")
    assert service_unit(config) == "pawpost@lola.service"
    config.source = Path("/etc/pawpost/pawpost.toml")
    assert service_unit(config) == "pawpost.service"


def test_doctor_flags_a_world_writable_data_folder_and_a_readable_secret(config: Any) -> None:
    from bot.doctor import check_permissions

    config.paths.data.chmod(0o777)
    found = messages(list(check_permissions(config)))
    assert found["data permissions"][0] is False and "chmod o-w" in found["data permissions"][2]

    config.paths.data.chmod(0o750)
    secret = config.paths.data.parent / "ig-password"
    secret.write_text("hunter2")
    secret.chmod(0o644)
    config.instagram.password_file = secret
    found = messages(list(check_permissions(config)))
    assert "data permissions" not in found
    ok, _, message = found["instagram.password_file permissions"]
    assert not ok and f"chmod 640 {secret}" in message and "hunter2" not in message
    secret.chmod(0o640)
    assert "instagram.password_file permissions" not in messages(list(check_permissions(config)))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; ownership problems cannot happen")
def test_doctor_flags_data_the_user_cannot_write(config: Any) -> None:
    from bot.doctor import check_permissions

    library = config.paths.library
    library.mkdir(parents=True, exist_ok=True)
    library.chmod(0o555)
    try:
        found = messages(list(check_permissions(config)))
        assert found["data ownership"][0] is False and str(library) in found["data ownership"][2]
    finally:
        library.chmod(0o755)
