"""Which files in a folder are photos, by their names: the rule a pet's reference folder and a labelled evaluation
folder follow, and what `pawpost init`'s setup check counts.

Low level on purpose (names only, no image library): the home, the config checks and vision all use it.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".gif", ".tif", ".tiff"}


def image_files(folder: Path | None) -> list[Path]:
    """Photos directly in a reference folder, by name (hidden files and other files skipped)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
