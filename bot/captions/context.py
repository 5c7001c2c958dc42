"""What the caption stage reads from the database about a post's photos: their pets, what vision found, the
owner's hints, the images themselves (merged for the post), and the account's past captions (the latest, and those
under the most similar photos).
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from bot.captions import templates
from bot.captions.prompt import PetInfo
from bot.captions.rules import body, mentions_name
from bot.config import Config
from bot.drafts.media import first_photo_sql
from bot.ingest.filecheck import DEFAULT_MAX_MEGAPIXELS
from bot.store.database import Store
from bot.store.states import DraftStatus
from bot.vision.images import PhotoUnreadable, open_image
from bot.vision.photo_pets import pets_in

log = logging.getLogger(__name__)

MAX_SIDE = 1536  # photos are scaled down to this before captioning: processors resize further anyway
# The most photos of one post a chat VLM is shown with its prompt (the first ones, in the post's order). Each photo
# costs SmolVLM2 about 405 image tokens at models.caption_image_px = 768, so four keep a prompt near 1,700 tokens
# and its memory near four single-photo prompts (the batch is counted in photos, bot.captions.stage); the
# describer still describes every photo for a describer + writer pair.
MAX_SET_IMAGES = 4
SIMILAR_POOL = 500  # past captions considered when looking for the most similar photos
DEFAULT_LENGTH = 120  # characters of a caption's words when the account has too few past captions to tell


@dataclass
class Shot:
    """One photo of a post as the caption stage sees it: its own pets, what vision found, its image and the
    describer's words about it."""

    photo_id: int
    sha256: str
    path: Path
    pets: list[PetInfo]
    scene: str | None
    hint: str | None = None
    image: Image.Image | None = None
    description: str | None = None
    frames: list[Image.Image] = field(default_factory=list)  # a video's key frames, in time order (cover included)

    @property
    def pictures(self) -> list[Image.Image | None]:
        """What the models look at for this medium: a photo, or a video's key frames."""
        return list(self.frames) or [self.image]


@dataclass
class PhotoJob:
    """One post to caption (one photo, or the photos of a carousel), with everything the prompt and the rules need.

    The fields describe the whole post: `pets` is every pet of the set (the lead photo's first), `scene`, `hint`
    and `description` the photos' facts merged in post order without repeats; `photo_id`, `sha256`, `path` and
    `image` are the lead photo's. `shots` holds each photo on its own, the lead first (just the lead when the job
    is built for one photo).
    """

    photo_id: int
    sha256: str
    path: Path
    pets: list[PetInfo]
    scene: str | None
    hint: str | None
    image: Image.Image | None = None
    description: str | None = None
    examples: list[str] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.shots:
            self.shots = [Shot(self.photo_id, self.sha256, self.path, self.pets, self.scene, self.hint, self.image)]

    @property
    def photo_ids(self) -> list[int]:
        return [s.photo_id for s in self.shots]

    @property
    def is_video(self) -> bool:
        """The post is one video clip (a Reel)."""
        return len(self.shots) == 1 and bool(self.shots[0].frames)

    @property
    def images(self) -> list[Image.Image | None]:
        """The pictures a chat VLM sees with the prompt: the post's first MAX_SET_IMAGES (a video's key frames)."""
        return [picture for s in self.shots for picture in s.pictures][:MAX_SET_IMAGES]

    @property
    def confidence(self) -> float | None:
        """How sure recognition is of every pet in the post (the least sure one, each pet at its surest photo);
        None when no pet."""
        best: dict[str, float] = {}
        for shot in self.shots:
            for p in shot.pets:
                if p.confidence is not None:
                    best[p.name.lower()] = max(p.confidence, best.get(p.name.lower(), p.confidence))
        return min(best.values()) if best else None

    def merge_descriptions(self) -> None:
        """The post's description from its photos' (each said once, in post order)."""
        self.description = merge_facts([s.description for s in self.shots])


def load_job(store: Store, config: Config, photo_id: int, hint: str | None = None) -> PhotoJob:
    """The photo's row, pets (most confident first) and analysis, with its image opened."""
    return load_post(store, config, [photo_id], hint=hint)


def load_post(store: Store, config: Config, photo_ids: Sequence[int], hint: str | None = None) -> PhotoJob:
    """One post's photos (in post order, the lead first), each with its pets, analysis and image, merged into one
    job. `hint` (the owner's, for the whole post) replaces the photos' own hints."""
    if not photo_ids:
        raise ValueError("a post has at least one photo")
    shots = [_load_shot(store, config, photo_id) for photo_id in photo_ids]
    lead = shots[0]
    pets: dict[str, PetInfo] = {}
    for shot in shots:
        for pet in shot.pets:
            pets.setdefault(pet.name.lower(), pet)
    scene = merge_scenes([s.scene for s in shots])
    hint = hint if hint is not None else merge_facts([s.hint for s in shots])
    return PhotoJob(lead.photo_id, lead.sha256, lead.path, list(pets.values()), scene, hint, image=lead.image,
                    shots=shots)


def _load_shot(store: Store, config: Config, photo_id: int) -> Shot:
    photo = store.photo(photo_id)
    pets = []
    for pet in pets_in(store, photo_id):
        configured = config.pet(pet.name)
        pets.append(PetInfo.from_config(configured, pet.confidence) if configured else
                    PetInfo(pet.name, pet.species, confidence=pet.confidence))
    analysis = _json(photo["analysis"])
    path = store.abspath(photo["path"])
    if path is None:
        raise PhotoUnreadable(f"photo {photo_id} has no library file")
    if photo["kind"] == "video":
        frames = key_frames(path, photo)
        cover = next((f for t, f in frames if t == photo["cover_at"]), frames[0][1])
        return Shot(photo_id, photo["sha256"], path, pets, scene_from_analysis(analysis), photo["hint"],
                    image=cover, frames=[f for _, f in frames])
    return Shot(photo_id, photo["sha256"], path, pets, scene_from_analysis(analysis), photo["hint"],
                image=caption_image(path, config.ingest.max_megapixels))


def key_frames(path: Path, photo: Any) -> list[tuple[float, Image.Image]]:
    """A clip's key frames for the caption models: its cover and its best-scored other sampled frames (at most
    MAX_SET_IMAGES in all), in time order; the middle frame for a clip never sampled."""
    from bot.errors import BadVideo
    from bot.video.frames import frame_at

    sampled = (_json(photo["video"]) or {}).get("frames") or []
    cover = photo["cover_at"] if photo["cover_at"] is not None else (photo["duration_s"] or 0) / 2
    others = sorted((f for f in sampled if f["t"] != cover), key=lambda f: -float(f.get("score") or 0))
    times = sorted({cover, *(f["t"] for f in others[:MAX_SET_IMAGES - 1])})
    try:
        return [(t, frame_at(path, t, max_side=MAX_SIDE)) for t in times]
    except BadVideo as exc:
        raise PhotoUnreadable(f"{path}: {exc}") from None


def merge_facts(facts: Sequence[str | None]) -> str | None:
    """Several photos' words as one: each said once (case, spacing and a final full stop aside), in post order,
    joined by "; ". One photo's words come back as they are."""
    seen: dict[str, str] = {}
    for fact in facts:
        key = " ".join((fact or "").split()).rstrip(".;").casefold()
        if key:
            seen.setdefault(key, fact)  # type: ignore[arg-type]
    if len(seen) <= 1:
        return next(iter(seen.values()), None)
    return "; ".join(" ".join(text.split()).rstrip(".;") for text in seen.values())


def merge_scenes(scenes: Sequence[str | None]) -> str | None:
    """What vision found across a post's photos; "no animal could be seen clearly" only when no photo shows one."""
    if scenes and all(s == templates.NO_ANIMAL_SEEN for s in scenes):
        return templates.NO_ANIMAL_SEEN
    return merge_facts([s for s in scenes if s != templates.NO_ANIMAL_SEEN])


def caption_image(path: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """The photo as the caption models see it (training included): upright, RGB, at most MAX_SIDE pixels; for a
    video file, its middle frame."""
    from bot.video.frames import is_video_path, middle_frame

    if is_video_path(path):
        from bot.errors import BadVideo

        try:
            return middle_frame(path, max_side=MAX_SIDE)
        except BadVideo as exc:
            raise PhotoUnreadable(f"{path}: {exc}") from None
    return open_image(path, max_megapixels, max_side=MAX_SIDE)


def scene_from_analysis(analysis: dict[str, Any]) -> str | None:
    """What vision found that the pet list does not already say: animals that are not the account's pets."""
    if analysis.get("no_animal"):
        return templates.NO_ANIMAL_SEEN
    strangers = [a.get("label") or "animal" for a in analysis.get("animals", []) if not a.get("pet")]
    if not strangers:
        return None
    counted: dict[str, int] = {}
    for label in strangers:
        counted[label] = counted.get(label, 0) + 1
    parts = [f"{n} {label}{'s' if n > 1 else ''}" if n > 1 else f"a {label}" for label, n in counted.items()]
    return templates.STRANGERS.format(animals=", ".join(parts))


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- the account's past captions ----------------------------------------------------------------

_PAST_SQL = f"""
    SELECT caption, at, sha256 FROM (
        SELECT d.caption AS caption, d.posted_at AS at, p.sha256 AS sha256
        FROM drafts d JOIN photos p ON p.id = {first_photo_sql("d")}
        WHERE d.status = ? AND d.caption IS NOT NULL AND trim(d.caption) != ''
        UNION ALL
        SELECT i.caption, i.taken_at, p.sha256
        FROM imported_posts i LEFT JOIN photos p ON p.id = i.photo_id
        WHERE trim(i.caption) != ''
    ) ORDER BY at DESC LIMIT ?
"""


@dataclass
class PastCaption:
    text: str
    sha256: str | None


def past_captions(store: Store, limit: int = 100) -> list[PastCaption]:
    """The account's posted captions (pawpost's and imported ones), newest first, without repeats."""
    seen: set[str] = set()
    out = []
    for caption, _at, sha in store.all(_PAST_SQL, (DraftStatus.POSTED, limit * 2)):
        key = " ".join(caption.split())
        if key not in seen:
            seen.add(key)
            out.append(PastCaption(caption, sha))
    return out[:limit]


def typical_length(past: list[PastCaption]) -> int:
    """The account's usual caption length (median characters of the words, hashtags left out)."""
    lengths = [len(body(p.text)) for p in past if body(p.text)]
    return int(statistics.median(lengths)) if len(lengths) >= 3 else DEFAULT_LENGTH


CHARS_PER_TOKEN = 3.0  # captions are short words and emoji: fewer characters per token than prose
MIN_NEW_TOKENS = 24


def token_budget(past: list[PastCaption], cap: int) -> int:
    """max_new_tokens for this account: half again the tokens of its long captions (the 90th percentile of
    their words, hashtags left out, which the rules add), within [24, captions.max_new_tokens]. A writer
    that rambles is stopped sooner; one that ends a sentence is trimmed there."""
    lengths = sorted(len(body(p.text)) for p in past if body(p.text))
    if len(lengths) < 3:
        return cap
    long = lengths[int(0.9 * (len(lengths) - 1))]
    return max(MIN_NEW_TOKENS, min(cap, math.ceil(1.5 * long / CHARS_PER_TOKEN)))


def style_examples(store: Store, sha256: str, count: int, past: list[PastCaption],
                   embedder_ids: list[str], avoid: Sequence[str] = ()) -> list[str]:
    """`count` past captions whose photos look most like this one; the most recent fill up the rest.

    Captions naming a pet in `avoid` (the account's pets not in this photo) are never shown: a small model
    copies the example's pet and story into the new caption.
    """
    if avoid:
        past = [p for p in past if not any(mentions_name(p.text, name) for name in avoid)]
    if count <= 0 or not past:
        return []
    chosen: list[str] = []
    ranked = _by_similarity(store, sha256, past, embedder_ids)
    for caption in ranked[:count]:
        chosen.append(caption.text)
    for caption in past:
        if len(chosen) >= count:
            break
        if caption.text not in chosen:
            chosen.append(caption.text)
    return chosen


def _by_similarity(store: Store, sha256: str, past: list[PastCaption], embedder_ids: list[str]) -> list[PastCaption]:
    import numpy as np

    # The photo's whole-image embedding cached by the vision stage: the configured embedder's if present.
    rows = store.all("SELECT embedder, dim, vector FROM embeddings WHERE sha256 = ? AND box = '' ORDER BY id DESC",
                     (sha256,))
    if not rows:
        return []
    rows.sort(key=lambda r: embedder_ids.index(r[0]) if r[0] in embedder_ids else len(embedder_ids))
    embedder, dim, blob = rows[0]
    query = np.frombuffer(blob, dtype=np.float32)
    shas = sorted({p.sha256 for p in past if p.sha256 and p.sha256 != sha256})
    if not shas or query.size != dim:
        return []
    vectors: dict[str, Any] = {}
    for i in range(0, len(shas), 500):
        part = shas[i:i + 500]
        marks = ",".join("?" * len(part))
        for sha, vdim, vblob in store.all(
                f"SELECT sha256, dim, vector FROM embeddings WHERE embedder = ? AND box = '' AND sha256 IN ({marks})",
                [embedder, *part]):
            if vdim == dim:
                vectors[sha] = np.frombuffer(vblob, dtype=np.float32)
    scored = [(float(vectors[p.sha256] @ query), i, p) for i, p in enumerate(past) if p.sha256 in vectors]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [p for _score, _i, p in scored]


def embedder_ids(config: Config, vision: Any = None) -> list[str]:
    """Keys under which the vision stage may have cached whole-image embeddings, best first."""
    ids = []
    embedder = getattr(vision, "embedder", None)
    if getattr(embedder, "identity", None):
        ids.append(embedder.identity)
    try:
        from bot.vision.embedder import embedder_identity

        ids.append(embedder_identity(config.models.embedder, config.models.embed_views))
    except ImportError:  # the vision package is optional for captions
        pass
    ids.append(config.models.embedder)
    return list(dict.fromkeys(ids))
