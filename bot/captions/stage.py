"""The caption stage: due `analyzed` photos become drafts (pending, or approved per approval mode), one photo or a
carousel each; a draft's fresh candidates (bot.drafts.regenerate) are written by the same `caption_photos`. Prompt,
seed and every candidate are recorded.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot import timeutil
from bot.captions import context, rank
from bot.captions.backends import ChatVLM, Describer, Writer
from bot.captions.generate import GenerationSettings, chunks, new_seed
from bot.captions.prompt import Prompt, build_prompt
from bot.captions.quality import wants_first_person
from bot.captions.rules import PAST_CAPTIONS_CHECKED, Verdict, check_candidate, rule_context
from bot.config import Config
from bot.drafts.media import add_draft, media_of, update_medium
from bot.errors import ModelUnavailable
from bot.ingest.photo_queue import clear_failure, defer_photos, due_photos, model_failed
from bot.runtime.ml import ManagedModel, Runtime
from bot.runtime.model_errors import clear_model_error
from bot.store.database import Store
from bot.store.states import DraftStatus, PhotoStatus

log = logging.getLogger(__name__)


class Captioner:
    """The caption models the config chooses: a chat VLM (`models.captioner`), or `models.describer` +
    `models.writer`. A LoRA adapter (from the model registry) goes on the model that writes the caption."""

    def __init__(self, config: Config, runtime: Runtime, adapter_dir: Path | None = None,
                 style_examples: int | None = None) -> None:
        m = config.models
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        # How many past captions the prompt shows; None: captions.style_examples. A retrained model was
        # trained with its own count (the registry records it), and is prompted the same way.
        self.style_examples = style_examples
        self.describer: Describer | None = None
        self.writer: Writer | None = None
        self.vlm: ChatVLM | None = None
        self.server: Any = None
        if m.uses_server and not (m.two_stage and self.adapter_dir is not None):
            # An inference server writes; as the writer, only until a retrained local writer is promoted.
            from bot.captions.server import ServerModel

            self.adapter_dir = None  # the server's model is the server's: no adapter of ours goes on it
            self.server = ServerModel(m, runtime)
            if m.server_writes_after_describer:
                self.describer = Describer(m.describer, runtime)
        elif m.two_stage:
            self.describer = Describer(m.describer, runtime)
            self.writer = Writer(m.writer, runtime, self.adapter_dir)
        else:
            self.vlm = ChatVLM(m.captioner, runtime, self.adapter_dir)

    @property
    def backend(self) -> str:
        if self.server is not None:
            return f"server {self.server.role}" if self.describer is None else "describer+server writer"
        return "describer+writer" if self.vlm is None else "captioner"

    @property
    def models(self) -> list[ManagedModel]:
        return [m for m in (self.vlm, self.describer, self.writer, self.server) if m is not None]

    @property
    def version(self) -> str:
        """What wrote the captions, as recorded on each draft: the adapter's version folder, 'base', or the server's
        model ('server:NAME')."""
        if self.server is not None:
            return f"server:{self.server.model_id}"
        if self.adapter_dir is None:
            return "base"
        # The registry keeps an adapter in <version>/adapter; a bare adapter folder is named for itself.
        return self.adapter_dir.parent.name if self.adapter_dir.name == "adapter" else self.adapter_dir.name

    def describe(self, images: list[Any], batch_size: int | None = None) -> list[str | None]:
        """The describer's words for each image (None each without a describer), `batch_size` images a call."""
        if self.describer is None:
            return [None] * len(images)
        out: list[str | None] = []
        for part in chunks(images, batch_size or len(images) or 1):
            out.extend(self.describer.describe(list(part)))
        return out

    def write(self, images: list[list[Any]], prompts: list[Prompt], settings: GenerationSettings,
              seed: int) -> list[list[str]]:
        """Raw candidates per prompt, from one batched generate call; `images` are each prompt's photos (a chat
        VLM sees them, a writer reads the describer's words in the prompt instead)."""
        if self.server is not None:
            return self.server.write(images, prompts, settings, seed)
        if self.vlm is not None:
            return self.vlm.write(images, prompts, settings, seed)
        assert self.writer is not None
        return self.writer.write(prompts, settings, seed)

    def special_tokens(self) -> list[str]:
        model = self.server or self.vlm or self.writer
        return model.special_tokens() if model is not None else []

    def unload(self) -> None:
        for model in self.models:
            model.unload()


@dataclass
class Scored:
    text: str
    passed: bool
    reason: str | None
    score: float | None = None


@dataclass
class Outcome:
    """One post's result: the prompt, the seed of the last round, and every candidate, best first."""

    job: context.PhotoJob
    prompt: Prompt
    seed: int
    rounds: int
    candidates: list[Scored] = field(default_factory=list)

    @property
    def best(self) -> Scored | None:
        return next((c for c in self.candidates if c.passed), None)


def caption_photos(store: Store, config: Config, captioner: Captioner, jobs: list[context.PhotoJob], *,
                   vision: Any = None, start: str | None = None, seed: int | None = None) -> list[Outcome]:
    """Prompt -> generate -> rules -> rank for a batch of posts (a job each: one photo or a carousel),
    regenerating (up to captions.max_attempts rounds) for posts that have no passing candidate yet. Raises
    ModelUnavailable when a model cannot load.

    The describer describes every photo of every post (a video's key frames) and the writer gets each post's
    facts merged; a chat VLM sees each post's first context.MAX_SET_IMAGES pictures with its prompt. The pets are
    the whole set's, so the rules ask for every one of them by name."""
    c = config.captions
    settings = GenerationSettings.from_config(c)
    base_seed = seed if seed is not None else c.seed if c.seed is not None else new_seed()
    past = context.past_captions(store, context.SIMILAR_POOL)
    past_texts = [p.text for p in past]
    target = context.typical_length(past[:PAST_CAPTIONS_CHECKED])
    settings = replace(settings, max_new_tokens=context.token_budget(past[:PAST_CAPTIONS_CHECKED],
                                                                     settings.max_new_tokens))
    ids = context.embedder_ids(config, vision)
    count = c.style_examples if captioner.style_examples is None else captioner.style_examples
    shots = [shot for job in jobs for shot in job.shots]
    # Every picture is described (a video's key frames each), and each medium gets its pictures' words merged.
    said = iter(captioner.describe([p for s in shots for p in s.pictures], config.models.batch_size))
    for shot in shots:
        shot.description = context.merge_facts([next(said) for _ in shot.pictures])
    for job in jobs:
        job.merge_descriptions()
        absent = [p.name for p in config.pets if p.name.lower() not in {q.name.lower() for q in job.pets}]
        job.examples = context.style_examples(store, job.sha256, count, past, ids, avoid=absent)
    day = timeutil.now().astimezone(config.schedule.zone).date()
    # A retrained model writes its own opening (it was trained without the primed first words).
    prompts = [build_prompt(config, job.pets, scene=_scene(job), examples=job.examples, hint=job.hint,
                            start=start, day=day, variant=job.photo_id, prime=captioner.adapter_dir is None,
                            photos=len(job.shots), images=len(job.images), video=job.is_video)
               for job in jobs]
    specials = captioner.special_tokens()
    outcomes = [Outcome(job, prompt, base_seed, 0) for job, prompt in zip(jobs, prompts, strict=True)]
    verdicts: list[list[Verdict]] = [[] for _ in jobs]
    rule_contexts = [rule_context(config, o.prompt, past_texts, specials) for o in outcomes]
    waiting = list(range(len(jobs)))
    for attempt in range(c.max_attempts):
        round_seed = base_seed + attempt
        raw = captioner.write([jobs[i].images for i in waiting], [prompts[i] for i in waiting], settings,
                              round_seed)
        for i, candidates in zip(waiting, raw, strict=True):
            outcomes[i].seed, outcomes[i].rounds = round_seed, attempt + 1
            seen = {v.text for v in verdicts[i]}
            for text in candidates:
                verdict = check_candidate(text, rule_contexts[i])
                if verdict.text in seen:
                    continue  # sampling can repeat itself; one copy is enough
                seen.add(verdict.text)
                verdicts[i].append(verdict)
                if not verdict.passed:
                    # Each refusal in full only at debug level (-vv); the summary below is the INFO line.
                    log.debug("photo %d: candidate refused, %s: %r", jobs[i].photo_id, verdict.reason,
                              verdict.text[:120])
        waiting = [i for i in waiting if not any(v.passed for v in verdicts[i])]
        if not waiting:
            break
    for job, found in zip(jobs, verdicts, strict=True):
        refused = Counter(_reason_kind(v.reason) for v in found if not v.passed and v.reason)
        if refused:
            common, n = refused.most_common(1)[0]
            log.info("photo %d: %d of %d candidate(s) refused by the rules (most often, %d: %s)", job.photo_id,
                     sum(refused.values()), len(found), n, common)
    # Only candidates that passed every rule are ranked; the refused ones are kept, unscored, after them.
    passing = [[v for v in found if v.passed] for found in verdicts]
    matches_for = _image_matches(vision, jobs, passing)
    first_person = wants_first_person(c.voice)
    chosen: list[str] = []  # this batch's captions so far: the next photo's should not say the same again
    for i, outcome in enumerate(outcomes):
        job, ctx = outcome.job, rule_contexts[i]
        # What the photo shows (not the pets' descriptions: repeating those is echo, not content).
        reference = " ".join(filter(None, [job.description, job.scene, job.hint]))
        texts = [v.text for v in passing[i]]
        values = rank.scores(texts, past=[*ctx.past_captions, *ctx.examples], reference=reference,
                             target_length=target, matches=matches_for[i], names=ctx.pet_names,
                             first_person=first_person and bool(job.pets),
                             echo_sources=ctx.echo_sources, speaker=ctx.speaker, recent=chosen,
                             species=ctx.speaker_species, alone=len(job.pets) == 1 and not job.scene) if texts else []
        ranked = sorted((Scored(v.text, True, None, s) for v, s in zip(passing[i], values, strict=True)),
                        key=lambda c: -(c.score or 0.0))
        outcome.candidates = ranked + [Scored(v.text, False, v.reason) for v in verdicts[i] if not v.passed]
        chosen.extend(c.text for c in ranked[:1])
    return outcomes


def _scene(job: context.PhotoJob) -> str | None:
    parts = [p for p in (job.description, job.scene) if p]
    return "; ".join(parts) if parts else None


def _image_matches(vision: Any, jobs: list[context.PhotoJob], verdicts: list[list[Verdict]]) -> list[Any]:
    """Each candidate's image-text similarity: to the photo, or for a set the mean over the photos a chat VLM is
    shown (a caption about the set should fit them all, not only the first)."""
    out: list[Any] = []
    for job, found in zip(jobs, verdicts, strict=True):
        texts = [v.text for v in found]
        per_photo = [rank.image_match(vision, image, texts) for image in job.images] if found else []
        known = [m for m in per_photo if m is not None]
        out.append([sum(values) / len(known) for values in zip(*known, strict=True)] if known else None)
    return out


# -- drafts -------------------------------------------------------------------------------------

def draft_analyzed(store: Store, config: Config, captioner: Captioner, vision: Any = None,
                   limit: int | None = None) -> int:
    """Caption due `analyzed` photos in batches and create one draft each; returns how many were drafted."""
    return draft_photos(store, config, captioner, due_photos(store, PhotoStatus.ANALYZED, limit), vision=vision)


def draft_photos(store: Store, config: Config, captioner: Captioner, ids: list[int], vision: Any = None) -> int:
    """Caption the `analyzed` photos `ids` (the pipeline's batch) and create one draft each; returns how many
    were drafted (see `draft_posts`)."""
    return draft_posts(store, config, captioner, [[photo_id] for photo_id in ids], vision=vision)


def draft_posts(store: Store, config: Config, captioner: Captioner, posts: list[list[int]],
                vision: Any = None) -> int:
    """Caption each post (its `analyzed` photo ids in post order, the lead first) and create one draft of its
    photos; returns how many drafts were made. Posts go in batches of about models.batch_size photos. A photo no
    longer `analyzed` (drafted by another process meanwhile) is left out of its post; a post with none left gets
    no draft.

    A caption model that cannot load leaves the photos `analyzed`, with the reason, to be retried later.
    """
    done = 0
    batches = photo_batches(posts, config.models.batch_size)
    for n, batch in enumerate(batches):
        jobs = []
        for post in batch:
            waiting = [i for i in post if store.photo(i)["status"] == PhotoStatus.ANALYZED]
            if not waiting:
                continue  # drafted by another process meanwhile: nothing to write
            try:
                jobs.append(context.load_post(store, config, waiting))
            except context.PhotoUnreadable as exc:
                defer_photos(store, waiting, str(exc))
        if not jobs:
            continue
        try:
            outcomes = caption_photos(store, config, captioner, jobs, vision=vision)
        except ModelUnavailable as exc:
            # Every photo still waiting needs the same model: all wait, none is lost.
            later = [i for b in batches[n + 1:] for post in b for i in post]
            model_failed(store, exc, [i for j in jobs for i in j.photo_ids] + later)
            return done
        for model in captioner.models:
            clear_model_error(store, model.key)
        for outcome in outcomes:
            if _create_draft(store, config, captioner, outcome):
                done += 1
    return done


def photo_batches(posts: list[list[int]], size: int) -> list[list[list[int]]]:
    """Posts in order, grouped so that a group holds at most `size` photos (a bigger post goes alone): the memory
    budget sizes batches in photos, and a carousel's photos are all described and (some) shown together."""
    batches: list[list[list[int]]] = []
    count = 0
    for post in posts:
        if not post:
            continue
        if batches and count + len(post) <= max(1, size):
            batches[-1].append(post)
            count += len(post)
        else:
            batches.append([post])
            count = len(post)
    return batches


def _create_draft(store: Store, config: Config, captioner: Captioner, outcome: Outcome) -> bool:
    job, best = outcome.job, outcome.best
    now = timeutil.iso(timeutil.now())
    status, why = _approval(config, outcome)
    ids = job.photo_ids
    with store.tx():
        marks = ",".join("?" * len(ids))
        if store.value(f"SELECT count(*) FROM photos WHERE id IN ({marks}) AND status = ?",
                       [*ids, PhotoStatus.ANALYZED]) != len(ids):
            return False  # changed meanwhile (another process drafted it, or the owner corrected it)
        # Each medium keeps its own photo's description, for its alt text (bot.captions.alttext).
        draft_id = add_draft(
            store, ids, status=status, caption=best.text if best else None,
            chosen=0 if best else None, prompt=outcome.prompt.record(), seed=outcome.seed,
            model_version=captioner.version, hint=job.hint, start_text=outcome.prompt.start or None,
            confidence=job.confidence, approved_at=now if status == DraftStatus.APPROVED else None,
            created_at=now, updated_at=now,
        )
        describe_media(store, draft_id, job)
        insert_candidates(store, draft_id, outcome.candidates, generation=0)
        if best is None:
            store.update("drafts", draft_id, note=no_caption_note(config, outcome, draft_id))
        for photo_id in ids:
            store.set_photo_status(photo_id, PhotoStatus.DRAFTED, expect=PhotoStatus.ANALYZED)
            clear_failure(store, photo_id)
        what = f"photo {job.photo_id}" if len(ids) == 1 else f"photos {', '.join(map(str, ids))}"
        store.event(f"draft.{status}", f"draft {draft_id} for {what}: {why}",
                    level="info" if best else "warning", photo_id=job.photo_id, draft_id=draft_id)
    return True


def describe_media(store: Store, draft_id: int, job: context.PhotoJob) -> None:
    """Each medium of the draft gets the describer's words about its own photo (kept when there are none)."""
    said = {shot.photo_id: shot.description for shot in job.shots if shot.description}
    with store.tx():
        for medium in media_of(store, draft_id):
            if medium.photo_id in said:
                update_medium(store, draft_id, medium.position, description=said[medium.photo_id])


def _approval(config: Config, outcome: Outcome) -> tuple[DraftStatus, str]:
    mode = config.approval.mode
    if outcome.best is None:
        return DraftStatus.PENDING, "no candidate passed the rules; waiting for the owner"
    if mode == "auto":
        return DraftStatus.APPROVED, "approved (approval.mode = auto)"
    if mode == "confident":
        confidence = outcome.job.confidence
        if confidence is not None and confidence >= config.approval.min_confidence:
            return DraftStatus.APPROVED, f"approved (pet confidence {confidence:.2f}, every rule passed)"
        shown = "no pet recognised" if confidence is None else f"pet confidence {confidence:.2f}"
        return DraftStatus.PENDING, f"pending ({shown} < approval.min_confidence {config.approval.min_confidence})"
    return DraftStatus.PENDING, "pending (approval.mode = manual)"


def insert_candidates(store: Store, draft_id: int, candidates: list[Scored], generation: int) -> None:
    for position, c in enumerate(candidates):
        store.insert("candidates", draft_id=draft_id, position=position, text=c.text, score=c.score,
                     passed=int(c.passed), reason=c.reason, generation=generation)


def no_caption_note(config: Config, outcome: Outcome, draft_id: int) -> str:
    reasons = Counter(_reason_kind(c.reason) for c in outcome.candidates if c.reason)
    common = reasons.most_common(1)[0][0] if reasons else "no candidate was written"
    return (f"No caption passed the rules after {outcome.rounds} round(s) of {config.captions.candidates} "
            f"candidates (most often: {common}). Write one with 'pawpost drafts approve {draft_id} --caption TEXT', "
            f"or try 'pawpost drafts regenerate {draft_id} --hint TEXT'.")


def _reason_kind(reason: str) -> str:
    # "it does not name Lola, who is in the photo" -> the same kind for every candidate, without quotes.
    return reason.split(' ("')[0].split(': "')[0]
