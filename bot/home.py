"""A new pawpost home: the starter config and the folders it names (`pawpost init`).

It never overwrites an existing config; folders are created only where missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, load_config, starter_text, user_config_path
from bot.errors import PawpostError
from bot.files import write_atomic
from bot.imagefiles import image_files

if TYPE_CHECKING:
    from bot.store.database import Store

# The data folder holds the photos, the database and the Instagram session: only its owner may look inside.
DATA_MODE = 0o700


@dataclass
class Initialised:
    """What `init` did: the config written, the folders created, and the per-user link to the config (if made)."""

    config_file: Path
    created: list[Path]
    linked: Path | None = None  # $XDG_CONFIG_HOME/pawpost/config.toml, now pointing at config_file
    found: bool = True  # whether a command run from elsewhere, without --config, finds config_file
    no_gpu: bool = False  # the config got the no-GPU caption models (NO_GPU_MODELS)


# The "no GPU" models: no detector (each photo is matched whole against the pets' reference photos), BLIP-base
# says what the photo shows and SmolLM2-135M writes: about 21 CPU-seconds a photo, so at most 30 s on two cores,
# where the default chat VLM takes minutes (benchmarks/cpu_pipeline.py; README, "No GPU").
NO_GPU_MODELS = {"detector": "none", "describer": "Salesforce/blip-image-captioning-base",
                 "writer": "HuggingFaceTB/SmolLM2-135M-Instruct"}
NO_GPU_NOTE = '  # set by pawpost init: no GPU found (README, "No GPU")'


def gpu_present() -> bool:
    """Whether this machine has a GPU the models could use, found without importing torch: an NVIDIA or AMD driver,
    or Apple silicon (MPS)."""
    import platform

    if platform.system() == "Darwin":
        return platform.machine() == "arm64"
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/kfd"))


def no_gpu_starter(text: str) -> str:
    """The starter config with the no-GPU models in its [models] section: a key the starter sets gets the new value,
    a commented-out one is set (once)."""
    lines, done, section = [], set(), ""
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            section = line.strip()
        commented = line.startswith("# ")
        key = line.removeprefix("# ").split(" ", 1)[0]
        if section == "[models]" and key in NO_GPU_MODELS and key not in done:
            set_later = commented and any(other.startswith(f"{key} = ") for other in text.splitlines())
            if not set_later:
                line = f'{key} = "{NO_GPU_MODELS[key]}"{NO_GPU_NOTE}\n'
                done.add(key)
        lines.append(line)
    return "".join(lines)


def init(directory: Path, *, force: bool = False, gpu: bool | None = None) -> Initialised:
    """Write `directory/pawpost.toml` and create the inbox, data and pet photo folders. Without a GPU (`gpu`;
    None: look for one) the config gets the no-GPU caption models.

    When no per-user config exists yet, $XDG_CONFIG_HOME/pawpost/config.toml becomes a link to the new config,
    so every command finds it from any folder (relative paths still resolve against `directory`).
    """
    directory = directory.expanduser().resolve()
    config_file = directory / "pawpost.toml"
    if config_file.exists() and not force:
        raise PawpostError(f"{config_file} already exists; edit it, or pass --force to replace it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        no_gpu = not (gpu_present() if gpu is None else gpu)
        text = no_gpu_starter(starter_text()) if no_gpu else starter_text()
        write_atomic(config_file, text.encode("utf-8"))
        done = Initialised(config_file, ensure_folders(load_config(config_file)), no_gpu=no_gpu)
    except OSError as exc:
        raise PawpostError(f"cannot create {exc.filename or directory}: {exc.strerror or exc}; "
                           "choose a folder you can write to") from None
    user = user_config_path()
    if user.is_symlink() and not user.exists():
        user.unlink()  # a link to a config that was removed: this one takes its place
    if not user.exists():
        try:
            user.parent.mkdir(parents=True, exist_ok=True)
            user.symlink_to(config_file)
            done.linked = user
        except OSError:
            done.found = False
    else:
        done.found = user.resolve() == config_file
    return done


def ensure_folders(config: Config) -> list[Path]:
    """Create every folder the config names (inbox, data and its parts, pet photo folders); returns the new ones."""
    wanted = [
        config.paths.inbox,
        config.paths.data,
        config.paths.library,
        config.paths.quarantine,
        config.paths.outbox,
        config.paths.models,
        *(pet.photos for pet in config.pets if pet.photos),
    ]
    created = []
    for folder in wanted:
        if not folder.exists():
            try:
                folder.mkdir(parents=True, mode=DATA_MODE if folder == config.paths.data else 0o777)
            except OSError as exc:
                raise PawpostError(f"cannot create the folder {folder}: {exc.strerror or exc}; "
                                   "fix the path in the config or the folder's permissions") from None
            created.append(folder)
    return created


def setup_problems(config: Config, store: Store) -> list[str]:
    """What keeps photos from being recognised as the owner's pets: no [[pets]], or a pet without reference
    photos (its folder missing or empty, and none added with `pawpost pets add`). One sentence each."""
    if not config.pets:
        return ["no [[pets]] in the config: photos cannot be recognised as your pets; add one [[pets]] table per "
                "pet (see config.example.toml)"]
    problems = []
    for pet in config.pets:
        added = store.value("SELECT count(*) FROM pet_references r JOIN pets p ON p.id = r.pet_id "
                            "WHERE p.name = ? AND r.origin != 'config'", (pet.name,)) or 0
        if added or image_files(pet.photos):
            continue
        if pet.photos is None:
            where = f"set photos = \"pets/{pet.name.lower()}\" in its [[pets]] table and put 3-10 photos there"
        elif not pet.photos.is_dir():
            where = f"its folder {pet.photos} does not exist: create it and put 3-10 photos of {pet.name} there"
        else:
            where = f"its folder {pet.photos} has no photos yet: put 3-10 photos of {pet.name} there"
        problems.append(f"{pet.name} has no reference photos, so no photo can be recognised as {pet.name}; "
                        f"{where} (or run 'pawpost pets add {pet.name} PHOTO...')")
    return problems
