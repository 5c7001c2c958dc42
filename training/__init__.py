"""The offline retraining job: dataset from past posts, LoRA fine-tuning, evaluation, and promotion into the model
registry (`bot.captions.registry`).

`pawpost retrain` runs it (usually from a systemd timer). It builds on `bot`, never the reverse: the daemon only
reads the registry's `current` pointer, and only the CLI (`bot/cli`) imports `training`.
"""
