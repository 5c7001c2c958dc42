"""The offline retraining job: dataset from past posts, LoRA fine-tuning, evaluation, and the model registry.

`pawpost retrain` runs it (usually from a systemd timer); the daemon only reads the registry's `current` pointer.
"""
