"""Vision: which of the owner's pets is in each photo (detector + embedder + reference matching).

Importing this package never imports torch or transformers; the models load on first use.
"""

from __future__ import annotations

from bot.vision.analyze import analyze_new, analyze_photos
from bot.vision.corrections import set_draft_pets, set_photo_pets
from bot.vision.identify import Animal, PhotoAnalysis, Vision

__all__ = ["Animal", "PhotoAnalysis", "Vision", "analyze_new", "analyze_photos", "set_draft_pets",
           "set_photo_pets"]
