"""Vision: which of the owner's pets is in each photo (detector + embedder + reference matching).

Importing this package never imports torch or transformers; the models load on first use. This file imports
nothing: callers name the module (`bot.vision.identify`, `bot.vision.analyze`, `bot.vision.corrections`).
"""
