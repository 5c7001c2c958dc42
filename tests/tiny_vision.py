"""Tiny random-weight vision models (OWLv2, DETR, DINOv2, CLIP) saved like hub checkpoints, and test photos.

The product loads them with its normal `from_pretrained` code; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SPECIES_LABELS = {0: "person", 1: "dog", 2: "cat", 3: "bird"}


def clip_tokenizer():
    """A byte-level BPE tokenizer with single-character tokens only: tiny, and enough for short queries."""
    from transformers import CLIPTokenizer

    # GPT-2's byte-to-unicode table: every byte gets a printable character, as byte-level BPE expects.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = [chr(b) for b in printable] + [chr(256 + n) for n in range(256 - len(printable))]
    vocab: dict[str, int] = {}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    # Special tokens last, as in CLIP: OWL treats a query whose first id is 0 as padding.
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[]), len(vocab)


def _text_config(vocab_size: int) -> dict:
    return {"vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
            "num_attention_heads": 4, "max_position_embeddings": 32, "bos_token_id": vocab_size - 2,
            "eos_token_id": vocab_size - 1, "pad_token_id": vocab_size - 1}


def _vision_config(image_size: int, patch_size: int) -> dict:
    return {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
            "image_size": image_size, "patch_size": patch_size}


def build_owlv2(path: Path, seed: int = 0, grid_boxes: bool = False) -> Path:
    """A tiny OWLv2. With `grid_boxes` its box head is zeroed, so each image patch predicts its own grid cell
    (OWLv2 adds a per-patch position prior): boxes the tests know, from the real detection code path."""
    import torch
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    torch.manual_seed(seed)
    tokenizer, vocab_size = clip_tokenizer()
    config = Owlv2Config(
        text_config=_text_config(vocab_size),
        vision_config=_vision_config(image_size=64, patch_size=16),
        projection_dim=32,
    )
    model = Owlv2ForObjectDetection(config).eval()
    if grid_boxes:
        with torch.no_grad():
            model.box_head.dense2.weight.zero_()
            model.box_head.dense2.bias.zero_()
    model.save_pretrained(path)
    image_processor = Owlv2ImageProcessorPil(size={"height": 64, "width": 64})
    Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def build_detr(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessorPil, ResNetConfig

    torch.manual_seed(seed)
    backbone = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                            layer_type="basic", out_features=["stage2"])
    config = DetrConfig(
        backbone_config=backbone, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=8,
        id2label=SPECIES_LABELS, label2id={v: k for k, v in SPECIES_LABELS.items()},
    )
    DetrForObjectDetection(config).eval().save_pretrained(path)
    DetrImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(path)
    return path


def build_dinov2(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BitImageProcessorPil, Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                          image_size=32, patch_size=8)
    Dinov2Model(config).eval().save_pretrained(path)
    BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                         image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(path)
    return path


def build_imagenet_classifier(path: Path, sees: str, seed: int = 0) -> Path:
    """A tiny random ResNet saved "for image classification" with a 1000-way ImageNet-style head that, whatever the
    photo, calls it an animal (`sees="animal"`: all the odds on classes 0-397) or an object (`sees="object"`)."""
    import torch
    from transformers import BitImageProcessorPil, ResNetConfig, ResNetForImageClassification

    torch.manual_seed(seed)
    model = ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                                      num_labels=1000)).eval()
    head = model.classifier[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-20.0)
        (head.bias[:398] if sees == "animal" else head.bias[398:]).fill_(0.0)
    model.save_pretrained(path)
    BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                         image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(path)
    return path


def build_clip(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    torch.manual_seed(seed)
    tokenizer, vocab_size = clip_tokenizer()
    config = CLIPConfig(
        text_config=_text_config(vocab_size),
        vision_config=_vision_config(image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(path)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


# -- photos ----------------------------------------------------------------------------------

# Each pet has its own look (colour and pattern), so even a random-weight embedder sees a pet's photos as
# closer to each other than to the other pet's; variants differ in shade, offset and noise.
LOOKS = {
    "red": ((200, 40, 30), "stripes"),
    "blue": ((30, 60, 210), "checks"),
    "green": ((40, 170, 60), "dots"),
}


def pet_photo(look: str, variant: int = 0, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A synthetic photo in one look; `variant` shifts its shade, pattern and noise deterministically."""
    colour, pattern = LOOKS[look]
    rng = np.random.default_rng(sum(map(ord, look)) * 101 + variant)
    shade = np.clip(np.array(colour) + rng.integers(-25, 26, 3), 0, 255)
    image = Image.new("RGB", size, tuple(int(c) for c in shade))
    draw = ImageDraw.Draw(image)
    w, h = size
    step = 12 + variant % 4
    dark = tuple(int(c * 0.4) for c in shade)
    if pattern == "stripes":
        for y in range(variant % step, h, step):
            draw.rectangle([0, y, w, y + step // 2], fill=dark)
    elif pattern == "checks":
        for y in range(0, h, step):
            for x in range((y // step) % 2 * step, w, 2 * step):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=dark)
    else:
        for y in range(step // 2, h, step):
            for x in range(step // 2 + variant % 3, w, step):
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=dark)
    noise = rng.integers(-12, 13, (h, w, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def two_pet_photo(left: str, right: str, variant: int = 0) -> Image.Image:
    """Two animals side by side: `left` look in the left half, `right` look in the right half."""
    a, b = pet_photo(left, variant, (64, 80)), pet_photo(right, variant, (64, 80))
    image = Image.new("RGB", (128, 80))
    image.paste(a, (0, 0))
    image.paste(b, (64, 0))
    return image


def save_photo(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=95)
    return path


def pet_jpeg(look: str, variant: int) -> bytes:
    """`pet_photo` as the JPEG file a phone would drop in the inbox."""
    import io

    buffer = io.BytesIO()
    pet_photo(look, variant).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# The two pets of the test homes: Lola has the "red" look, Pico the "blue" one.
PET_LOOKS = {"Lola": "red", "Pico": "blue"}


def reference_photos(root: Path, looks: dict[str, str] = PET_LOOKS, count: int = 3) -> list[dict[str, str]]:
    """`count` reference photos of each pet in its look, in root/pets/<name>/; returns the pets' [[pets]] tables."""
    pets = []
    for name, look in looks.items():
        folder = root / "pets" / name.lower()
        for variant in range(count):
            save_photo(pet_photo(look, variant), folder / f"{name.lower()}-{variant}.jpg")
        pets.append({"name": name, "species": "dog", "photos": f"pets/{name.lower()}"})
    return pets
