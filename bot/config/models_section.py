"""The [models] section: which models see, recognise and write, where they run, and how animals are matched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bot.config.paths import ModelRef
from bot.config.sections import Section
from bot.config.server_keys import CaptionServerKeys


class ModelsConfig(Section, CaptionServerKeys):
    device: str = "auto"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    idle_unload_minutes: Annotated[float, Field(ge=0)] = 10
    detector: ModelRef = "google/owlv2-base-patch16-ensemble"
    embedder: ModelRef = "facebook/dinov2-small"
    captioner: ModelRef = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"
    describer: ModelRef | None = None
    writer: ModelRef | None = None
    detection_threshold: Annotated[float, Field(ge=0, le=1)] = 0.2
    # "auto": calibrated from the owner's reference photos (bot.vision.threshold); a number overrides it.
    match_threshold: Annotated[float, Field(ge=-1, le=1)] | Literal["auto"] = "auto"
    # Photos of animals (or toys) that are none of the owner's pets: they sharpen the calibrated threshold.
    strangers: Path | None = None
    # Views of each animal averaged into its vector: 5 adds four corner crops (steadier, 5x the embedder's work).
    embed_views: Literal[1, 5] = 5
    # A photo matched whole (no detector, or nothing detected) that the embedder's ImageNet-1k classifier, where it
    # has one, finds more likely to show no animal than one, is no pet (a toy, a bag, a sofa).
    animal_check: bool = True
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8  # at most; on a GPU the memory budget may choose fewer
    # GPU memory the models may use, in GB: "auto" is what is free on the card at start-up minus a safety margin.
    gpu_memory_gb: float | Literal["auto"] = "auto"
    # Longest side of the photo a chat VLM sees when it writes a caption (its processor tiles it in 384 px tiles).
    caption_image_px: Annotated[int, Field(ge=128, le=4096)] = 768

    @field_validator("gpu_memory_gb")
    @classmethod
    def _gpu_memory(cls, value: float | str) -> float | str:
        if value != "auto" and not 0.5 <= float(value) <= 4096:
            raise ValueError('must be "auto" or a number of GB between 0.5 and 4096')
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value

    @model_validator(mode="after")
    def _two_stage(self) -> ModelsConfig:
        problem = self.server_problem(self.describer, self.writer)
        if problem:
            raise ValueError(problem)
        if bool(self.describer) != bool(self.writer) and not self.server_writes_after_describer:
            raise ValueError("describer and writer must be set together (or neither, to use captioner)")
        return self

    @property
    def two_stage(self) -> bool:
        return bool(self.describer and self.writer)
