"""Health checks for `pawpost doctor`: each check is one line, OK or what to fix.

Checks are plain functions returning `Check`s; later stages add theirs to CHECKS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.check import Check
from bot.config import Config
from bot.errors import PawpostError


def check_config(config: Config) -> Iterator[Check]:
    yield Check("config", True, f"{config.source} is valid")
    if not config.pets:
        yield Check("pets", False, "no [[pets]] configured; add one per pet so photos can be recognised")
    for pet in config.pets:
        if pet.photos is None:
            yield Check(f"pet {pet.name}", True, "no reference photo folder (add photos with 'pawpost pets add')",
                        warning=True)
        elif not pet.photos.is_dir():
            yield Check(f"pet {pet.name}", False, f"reference folder {pet.photos} does not exist; create it and add "
                        "a few photos of the pet")
        else:
            n = sum(1 for p in pet.photos.iterdir() if p.is_file() and not p.name.startswith("."))
            yield Check(f"pet {pet.name}", n > 0, f"{n} reference photo(s) in {pet.photos}" if n else
                        f"{pet.photos} is empty; add 3-10 photos of {pet.name}")


def check_folders(config: Config) -> Iterator[Check]:
    p = config.paths
    for name, folder in (("inbox", p.inbox), ("data", p.data)):
        if not folder.is_dir():
            yield Check(f"folder {name}", False, f"{folder} does not exist; run 'pawpost init' or create it")
        elif not os.access(folder, os.W_OK | os.X_OK):
            why = "is on a file system mounted read-only" if _read_only_mount(folder) else \
                "is not writable by this user"
            yield Check(f"folder {name}", False, f"{folder} {why}")
        else:
            yield Check(f"folder {name}", True, str(folder))
    if p.data.is_dir():
        free = shutil.disk_usage(p.data).free / 2**30
        yield Check("disk", free >= 1, f"{free:.1f} GiB free under {p.data}" + ("" if free >= 1 else
                    "; free some space, photos and models need room"))


def check_database(config: Config) -> Iterator[Check]:
    from bot.store.database import Store

    try:
        with Store.for_config(config) as store:
            counts = store.counts()
    except (PawpostError, OSError) as exc:
        yield Check("database", False, str(exc))
        return
    yield Check("database", True, f"{config.paths.database}: {sum(counts['photos'].values())} photos, "
                f"{sum(counts['drafts'].values())} drafts")


def check_gpu(config: Config) -> Iterator[Check]:
    from bot.runtime.ml import gpu_memory, resolve_device

    try:
        device = resolve_device(config.models.device)
    except PawpostError as exc:
        yield Check("gpu", False, str(exc))
        return
    mem = gpu_memory() if device.startswith("cuda") else None
    if mem:
        yield Check("gpu", True, f"{device}: {mem['free_mib'] / 1024:.1f} of {mem['total_mib'] / 1024:.1f} GiB free")
    else:
        yield Check("gpu", True, f"no GPU in use; models run on {device} (slower, still correct)", warning=True)


def service_unit(config: Config) -> str:
    """The systemd unit that runs this config: pawpost@NAME for /etc/pawpost/NAME.toml, else pawpost.service."""
    source = config.source
    if source is not None and source.parent == Path("/etc/pawpost") and source.stem != "pawpost":
        return f"pawpost@{source.stem}.service"
    return "pawpost.service"


def unit_state(unit: str, root: Path | None = None) -> dict[str, str] | None:
    """`systemctl is-enabled` / `is-active` for `unit` (None without systemctl); `root` reads an offline tree."""
    import subprocess

    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    base = [systemctl, f"--root={root}"] if root else [systemctl]
    state = {}
    for verb in ("is-enabled", "is-active"):
        if verb == "is-active" and (root is not None or not Path("/run/systemd/system").is_dir()):
            state[verb] = "no-systemd"  # systemd is not PID 1 here (a container, or an offline root)
            continue
        try:
            done = subprocess.run([*base, verb, unit], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            state[verb] = f"unknown ({exc})"
            continue
        text = (done.stdout.strip() or done.stderr.strip()).splitlines()
        answer = text[0] if text else ""
        state[verb] = "not-found" if "No such file" in answer or answer == "not-found" else answer
    return state


def check_service(config: Config, root: Path | None = None) -> Iterator[Check]:
    unit = service_unit(config)
    state = unit_state(unit, root)
    if state is None:
        yield Check("service", True, "systemctl not found: run 'pawpost run' under your own supervisor",
                    warning=True)
        return
    enabled, active = state["is-enabled"], state["is-active"]
    if enabled == "not-found":
        yield Check("service", True, f"{unit} is not installed (optional; see the README, 'Running as a service')",
                    warning=True)
        return
    if active == "no-systemd":
        yield Check("service", True, f"{unit} is installed ({enabled}); systemd is not running here", warning=True)
    elif active == "failed":  # systemctl is-active; not a draft state
        yield Check("service", False, f"{unit} has failed; see 'journalctl -u {unit} -e', then "
                    f"'systemctl restart {unit}'")
    elif active in ("active", "reloading", "activating"):
        yield Check("service", True, f"{unit} is {enabled} and {active}",
                    warning=enabled != "enabled")
    else:
        yield Check("service", True, f"{unit} is installed but {active}; start it with "
                    f"'systemctl enable --now {unit}'", warning=True)
    timer = unit.replace("pawpost", "pawpost-retrain", 1).replace(".service", ".timer")
    timer_state = unit_state(timer, root) or {}
    if timer_state.get("is-enabled") not in ("enabled", "static", "alias"):
        yield Check("retrain timer", True, f"{timer} is not enabled: the caption model is never retrained; "
                    f"run 'systemctl enable --now {timer}'", warning=True)
    else:
        yield Check("retrain timer", True, f"{timer} is enabled")


def check_permissions(config: Config) -> Iterator[Check]:
    data = config.paths.data
    if os.geteuid() == 0:
        yield Check("user", True, "running as root: files created now may be unwritable for the service's user "
                    "(pawpost); run as that user (sudo -u pawpost pawpost ...)", warning=True)
    if data.is_dir():
        mode = data.stat().st_mode
        if mode & 0o002:
            yield Check("data permissions", False, f"{data} is writable by every user; run 'chmod o-w {data}'")
        elif mode & 0o005:
            yield Check("data permissions", True, f"{data} is readable by other users (photos, the Instagram "
                        f"session); 'chmod o-rx {data}' keeps them private", warning=True)
        stuck = [p for p in (data, config.paths.database, *(config.paths.database.with_name(
                 config.paths.database.name + s) for s in ("-wal", "-shm")), config.paths.library,
                 config.paths.quarantine, config.paths.outbox, config.paths.models)
                 if p.exists() and not os.access(p, os.W_OK)]
        if stuck and _read_only_mount(stuck[0]):
            # Not an owner mismatch: no chown helps on a read-only mount.
            yield Check("data ownership", False, f"{stuck[0]} is on a file system mounted read-only: pawpost can "
                        "show its state but not change it; remount it read-write")
        elif stuck:
            owner = stuck[0].stat().st_uid
            yield Check("data ownership", False, f"{stuck[0]} is not writable by this user (it belongs to uid "
                        f"{owner}); run 'chown -R {_user()} {data}'")
        else:
            yield Check("data ownership", True, f"{data} and its files are writable by {_user()}")
    secrets = [("config", config.source, 0o007), ("instagram.password_file", config.instagram.password_file, 0o007),
               ("instagram.totp_seed_file", config.instagram.totp_seed_file, 0o007),
               ("instagram session", config.session_file, 0o077),
               ("graph.app_secret_file", config.graph.app_secret_file, 0o007)]
    for name, path, forbidden in secrets:
        if path is None or not path.is_file():
            continue
        if name == "config" and not _holds_secret(path):
            continue
        if path.stat().st_mode & forbidden:
            mode = "600" if forbidden == 0o077 else "640"
            yield Check(f"{name} permissions", False, f"{path} holds a secret and other users can read it; run "
                        f"'chmod {mode} {path}'")


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_backups(config: Config) -> Iterator[Check]:
    """The newest database backup (daily and before each migration, in data/backups/)."""
    from bot import timeutil
    from bot.store import backup

    found = backup.backups(config.paths.data)
    if not found:
        if config.paths.database.is_file():
            yield Check("backups", True, f"no database backup in {backup.folder_for(config.paths.data)} yet (one is "
                        "taken each day once there are photos)", warning=True)
        return
    age = timeutil.now() - found[0].taken_at
    days = age.total_seconds() / 86400
    message = f"{len(found)} in {backup.folder_for(config.paths.data)}, newest {timeutil.iso(found[0].taken_at)}"
    if days > 2:
        yield Check("backups", True, f"{message}: {days:.0f} days old; is the data folder writable?", warning=True)
    else:
        yield Check("backups", True, message)


def _holds_secret(path: Path) -> bool:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # The secrets a config file may hold: instagram.password, .totp_seed, .proxy (may carry a password), and the
    # official API's app_secret.
    keys = ("password", "totp_seed", "proxy", "app_secret")
    return any(isinstance(section, dict) and any(section.get(k) for k in keys) for section in data.values())


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def check_instagram(config: Config) -> Iterator[Check]:
    """The publisher's own checks: its login (session or token) and what else it needs to post."""
    from bot.publish.publishers.registry import kind_for

    yield from kind_for(config).doctor_checks(config)


def check_inbox(config: Config) -> Iterator[Check]:
    """iPhone (HEIC) photos can be read, and how many files ingest has set aside in quarantine."""
    try:
        from bot.ingest.filecheck import register_heif

        register_heif()
        yield Check("heic", True, "HEIC/HEIF photos can be read")
    except Exception as exc:
        yield Check("heic", False, f"HEIC photos cannot be read ({exc}); reinstall pillow-heif")
    folder = config.paths.quarantine
    n = sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else 0
    if n:
        yield Check("quarantine", True, f"{n} file(s) set aside in {folder}; 'pawpost status' says why", warning=True)


def check_vision(config: Config) -> Iterator[Check]:
    """The detector and embedder: whether each is available offline; one whose last load failed is loaded again."""
    from bot.vision.health import vision_checks

    yield from vision_checks(config, lambda key: recheck_model(config, key))


def check_captions(config: Config) -> Iterator[Check]:
    """The caption models: the chat VLM's runtime extras, whether each is available offline; one whose last load
    failed is loaded again."""
    from bot.captions.health import caption_checks

    yield from caption_checks(config, lambda key: recheck_model(config, key))


def recheck_model(config: Config, key: str) -> str | None:
    """Load models.`key` as its stage does (device, dtype, the promoted adapter), then unload it: None when it loads,
    and its remembered failure is forgotten; else why not, remembered in its place (status shows it)."""
    from bot.errors import GpuBusy, ModelUnavailable
    from bot.runtime.model_errors import clear_model_error, record_model_error
    from bot.runtime.services import ModelServices
    from bot.store.database import Store

    services = ModelServices(config)
    try:
        with services.using(timeout=5):
            if key in ("detector", "embedder"):
                model = getattr(services.vision(), key)
            else:
                model = next((m for m in services.captioner().models if m.key == key), None)
            if model is not None:  # else the config no longer runs it: its failure is moot
                model.load()
    except GpuBusy as exc:
        return f"not re-checked now: {exc}"
    except ModelUnavailable as exc:
        reason = exc.reason
    else:
        reason = None
    finally:
        services.unload_all()
    with Store.for_config(config) as store:
        if reason is None:
            clear_model_error(store, key)
        else:
            record_model_error(store, key, reason)
    return reason


CHECKS: list[Callable[[Config], Iterator[Check]]] = [
    check_config, check_folders, check_database, check_gpu, check_service, check_permissions, check_instagram,
    check_inbox, check_vision, check_captions, check_backups,
]


def run_checks(config: Config) -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        try:
            results.extend(check(config))
        except Exception as exc:  # a broken check must not hide the others
            results.append(Check(check.__name__.removeprefix("check_"), False, f"check failed: {exc}"))
    return results
