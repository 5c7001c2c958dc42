"""Health checks for `pawpost doctor`: each check is one line, OK or what to fix.

Checks are plain functions returning `Check`s; later stages add theirs to CHECKS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from bot.config import Config
from bot.errors import PawpostError


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    warning: bool = False  # not fatal: shown, but doctor still exits 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


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
            yield Check(f"folder {name}", False, f"{folder} is not writable by this user")
        else:
            yield Check(f"folder {name}", True, str(folder))
    if p.data.is_dir():
        free = shutil.disk_usage(p.data).free / 2**30
        yield Check("disk", free >= 1, f"{free:.1f} GiB free under {p.data}" + ("" if free >= 1 else
                    "; free some space, photos and models need room"))


def check_database(config: Config) -> Iterator[Check]:
    from bot.store import Store

    try:
        with Store.for_config(config) as store:
            counts = store.counts()
    except (PawpostError, OSError) as exc:
        yield Check("database", False, str(exc))
        return
    yield Check("database", True, f"{config.paths.database}: {sum(counts['photos'].values())} photos, "
                f"{sum(counts['drafts'].values())} drafts")


def check_gpu(config: Config) -> Iterator[Check]:
    from bot.ml import gpu_memory, resolve_device

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


CHECKS: list[Callable[[Config], Iterator[Check]]] = [check_config, check_folders, check_database, check_gpu]


def run_checks(config: Config) -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        try:
            results.extend(check(config))
        except Exception as exc:  # a broken check must not hide the others
            results.append(Check(check.__name__.removeprefix("check_"), False, f"check failed: {exc}"))
    return results
