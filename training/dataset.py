"""The retraining dataset: the account's posts (pawpost's posted drafts and imported older posts), cleaned.

The caption as posted is the target (the owner's edit when there was one); the newest posts are held out. A carousel
is one post: its caption is learned once, with the pets and facts of all its photos.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.drafts.media import first_photo_sql
from bot.errors import PawpostError
from bot.limits import HASHTAG_RE, MENTION_RE
from bot.store.database import Store
from bot.store.states import DraftStatus

POSTED = DraftStatus.POSTED

LINK_RE = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
# A line of nothing but punctuation: the "." spacer lines people put above a hashtag block.
SPACER_RE = re.compile(r"^[\s.·•\-_|*~]*$")


@dataclass
class Cleaned:
    text: str
    hashtags: list[str]
    mentions: list[str]


def clean_caption(raw: str) -> Cleaned:
    """The caption's own words: hashtag blocks and @mentions taken out (kept aside), links dropped.

    A hashtag inside a sentence ("loving #sundays") keeps its word; runs of hashtags and trailing ones go.
    """
    tags = HASHTAG_RE.findall(raw)
    mentions = MENTION_RE.findall(raw)
    text = LINK_RE.sub(" ", raw)
    text = MENTION_RE.sub(" ", text)
    lines = []
    for line in text.splitlines():
        # a run of two or more hashtags (a block), and any hashtags ending the line, are removed
        line = re.sub(r"(?:(?<![\w#])#\w+[\s.,]*){2,}", " ", line)
        line = re.sub(r"(?:\s*(?<![\w#])#\w+)+[\s.,]*$", " ", line)
        line = HASHTAG_RE.sub(lambda m: m.group(0)[1:], line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        line = re.sub(r"\s+([,.!?;:])", r"\1", line)
        if SPACER_RE.fullmatch(line):
            line = ""
        lines.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return Cleaned(text=text, hashtags=tags, mentions=mentions)


@dataclass
class Example:
    """One post the model should learn to write: its photos, pets and the caption as posted (cleaned)."""

    key: str  # "draft:<id>" or "imported:<media id>": stable across runs, so new posts can be counted
    source: str  # POSTED (a post pawpost made) | "imported"
    at: str  # when it was posted (UTC ISO); the split is by this
    caption: str
    photo: Path | None  # the first photo's file
    photo_id: int | None  # the first photo
    pets: list[str] = field(default_factory=list)  # every pet of the post, the first photo's first
    hint: str | None = None
    edited: bool = False  # the owner rewrote the model's caption: the strongest signal of the voice
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    raw: str = ""  # the caption exactly as posted (style examples and the rules see this, as in the daemon)
    sha256: str | None = None
    scene: str | None = None  # what vision found besides the pets, worded as the daemon words it (all photos')
    prompted_on: str | None = None  # when the daemon built the prompt (the day's theme depends on it)
    # Every photo of the post in order, the first included (a carousel has several): ids and files on disk.
    photo_ids: list[int] = field(default_factory=list)
    photos: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["photo"] = str(self.photo) if self.photo else None
        out["photos"] = [str(p) for p in self.photos]
        return out


@dataclass
class Dataset:
    train: list[Example]
    holdout: list[Example]
    dropped: dict[str, int]  # why posts were left out: empty, duplicate, no_photo

    @property
    def examples(self) -> list[Example]:
        return self.train + self.holdout

    def counts(self) -> dict[str, int]:
        every = self.examples
        return {
            "train": len(self.train),
            "holdout": len(self.holdout),
            POSTED: sum(e.source == POSTED for e in every),
            "imported": sum(e.source == "imported" for e in every),
            "edited": sum(e.edited for e in every),
            **{f"dropped_{k}": v for k, v in self.dropped.items()},
        }


_PETS_SQL = """(SELECT group_concat(name, char(31)) FROM (
    SELECT pets.name AS name FROM photo_pets pp JOIN pets ON pets.id = pp.pet_id
    WHERE pp.photo_id = {photo} ORDER BY pp.confidence DESC, pets.name))"""


def collect(store: Store, *, need_photo: bool = False) -> tuple[list[Example], dict[str, int]]:
    """Every usable post, oldest first, cleaned and de-duplicated; plus how many were dropped and why.

    `need_photo`: the chat VLM learns from the photo, so posts whose image is missing cannot teach it.
    """
    rows: list[dict[str, Any]] = []
    # One row per post, led by its first photo; a carousel's other photos join it below (`_with_media`).
    for r in store.all(
        f"""SELECT d.id, d.caption, d.edited, coalesce(d.hint, p.hint) AS hint, d.posted_at, d.created_at,
                   d.media_id, p.id AS photo_id, p.path, p.sha256, p.analysis, {_PETS_SQL.format(photo="p.id")} AS pets
            FROM drafts d JOIN photos p ON p.id = {first_photo_sql("d")} WHERE d.status = ?""", (POSTED,)
    ):
        rows.append({"key": f"draft:{r['id']}", "source": POSTED, "at": r["posted_at"] or "", "raw": r["caption"],
                     "edited": bool(r["edited"]), "hint": r["hint"], "photo_id": r["photo_id"], "path": r["path"],
                     "pets": r["pets"], "media_id": r["media_id"], "sha256": r["sha256"], "analysis": r["analysis"],
                     "prompted_on": r["created_at"]})
    posted_media = {r["media_id"] for r in rows if r["media_id"]}
    for r in store.all(
        f"""SELECT i.media_id, i.taken_at, i.caption, i.photo_id, p.path, p.sha256, p.analysis, p.hint,
                   {_PETS_SQL.format(photo="i.photo_id")} AS pets
            FROM imported_posts i LEFT JOIN photos p ON p.id = i.photo_id"""
    ):
        if r["media_id"] in posted_media:  # pawpost's own post, imported again: the draft row knows more
            continue
        rows.append({"key": f"imported:{r['media_id']}", "source": "imported", "at": r["taken_at"] or "",
                     "raw": r["caption"], "edited": False, "hint": r["hint"], "photo_id": r["photo_id"],
                     "path": r["path"], "pets": r["pets"], "media_id": r["media_id"], "sha256": r["sha256"],
                     "analysis": r["analysis"], "prompted_on": r["taken_at"]})
    rows.sort(key=lambda r: (r["at"], r["key"]))
    _with_media(store, rows)

    dropped = {"empty": 0, "duplicate": 0, "no_photo": 0}
    seen: set[str] = set()
    out: list[Example] = []
    for r in rows:
        cleaned = clean_caption(r["raw"] or "")
        if not cleaned.text:
            dropped["empty"] += 1
            continue
        norm = " ".join(cleaned.text.casefold().split())
        if norm in seen:  # the oldest copy stays, so a repeat can never leak into the held-out set
            dropped["duplicate"] += 1
            continue
        photo = store.abspath(r["path"]) if r["path"] else None
        if need_photo and (photo is None or not photo.is_file()):
            dropped["no_photo"] += 1
            continue
        # A carousel photo whose file is gone is left out of the post; the post still has its first photo.
        files = [(i, store.abspath(path) if path else None) for i, path in r["media"]]
        present = [(i, f) for i, f in files if f is not None and (not need_photo or f.is_file())]
        seen.add(norm)
        out.append(Example(
            key=r["key"], source=r["source"], at=r["at"], caption=cleaned.text, photo=photo,
            photo_id=r["photo_id"], pets=r["pets"].split("\x1f") if r["pets"] else [], hint=r["hint"],
            edited=r["edited"], hashtags=cleaned.hashtags, mentions=cleaned.mentions, raw=r["raw"],
            sha256=r["sha256"], scene=r["scene"], prompted_on=r["prompted_on"],
            photo_ids=[i for i, _ in present], photos=[f for _, f in present],
        ))
    return out, dropped


def _with_media(store: Store, rows: list[dict[str, Any]]) -> None:
    """Each row's photos in post order (`media`: (id, library path) pairs), its pets across them (the first
    photo's first) and their scenes merged as the caption stage merges them (bot.captions.context)."""
    from bot.captions.context import merge_scenes
    from bot.drafts.media import media_of_drafts

    drafts = [int(r["key"].split(":", 1)[1]) for r in rows if r["source"] == POSTED]
    media = media_of_drafts(store, drafts)
    for r in rows:
        if r["source"] == POSTED:
            r["media"] = [(m.photo_id, m.path) for m in media.get(int(r["key"].split(":", 1)[1]), [])]
        else:
            r["media"] = [(r["photo_id"], r["path"])] if r["photo_id"] is not None and r["path"] else []
    others = sorted({i for r in rows for i, _ in r["media"][1:]})
    extra: dict[int, tuple[str | None, str | None]] = {}
    for i in range(0, len(others), 500):
        part = others[i:i + 500]
        marks = ",".join("?" * len(part))
        for x in store.all(f"SELECT p.id, p.analysis, {_PETS_SQL.format(photo='p.id')} AS pets FROM photos p "
                           f"WHERE p.id IN ({marks})", part):
            extra[x["id"]] = (x["analysis"], x["pets"])
    for r in rows:
        pets = r["pets"].split("\x1f") if r["pets"] else []
        scenes = [_scene(r["analysis"])]
        for photo_id, _path in r["media"][1:]:
            analysis, names = extra.get(photo_id, (None, None))
            pets += [n for n in (names.split("\x1f") if names else []) if n.lower() not in {p.lower() for p in pets}]
            scenes.append(_scene(analysis))
        r["pets"] = "\x1f".join(pets) if pets else None
        r["scene"] = merge_scenes(scenes)


def _scene(analysis: str | None) -> str | None:
    from bot.captions.context import scene_from_analysis

    try:
        value = json.loads(analysis) if analysis else {}
    except ValueError:
        value = {}
    return scene_from_analysis(value) if isinstance(value, dict) else None


def split(examples: list[Example], holdout_fraction: float,
          min_holdout: int = 1) -> tuple[list[Example], list[Example]]:
    """Time-ordered: the newest `holdout_fraction` is held out, the rest trains. At least `min_holdout` posts
    are held out as long as two thirds of the posts still train (a judge needs enough posts to decide)."""
    if len(examples) < 2:
        raise PawpostError(f"only {len(examples)} usable post(s) with a caption; retraining needs at least 2 "
                           "(post more, or run 'pawpost history import')")
    ordered = sorted(examples, key=lambda e: (e.at, e.key))
    n_hold = max(1, math.ceil(len(ordered) * holdout_fraction), min(min_holdout, len(ordered) // 3))
    n_hold = min(len(ordered) - 1, n_hold)
    return ordered[:-n_hold], ordered[-n_hold:]


def build(store: Store, config: Config, *,
          collected: tuple[list[Example], dict[str, int]] | None = None) -> Dataset:
    """The dataset, split for training and judging; both backends learn from the photo (the writer via its
    description), so posts without their image are left out. `collected`: what `collect(store, need_photo=True)`
    returned, when the caller has it already (a retrain counts the new posts before it splits)."""
    examples, dropped = collected if collected is not None else collect(store, need_photo=True)
    train, holdout = split(examples, config.retrain.holdout_fraction, config.retrain.min_holdout_posts)
    return Dataset(train=train, holdout=holdout, dropped=dropped)
