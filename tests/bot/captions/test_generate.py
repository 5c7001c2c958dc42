"""Generation: one batched call, seeded, the same tokens whether or not the prompt's cache is shared."""

from __future__ import annotations

import torch
from PIL import Image

from bot.captions.backends import ChatVLM, Writer
from bot.captions.generate import GenerationSettings, grouped, sample, suppressed_ids, to_device
from bot.captions.prompt import Prompt
from bot.runtime.ml import Runtime

# Near-greedy: tiny float differences between two equivalent computations cannot change the pick.
SHARP = GenerationSettings(candidates=3, max_new_tokens=8, temperature=0.01, top_p=1.0, repetition_penalty=1.2,
                           no_repeat_ngram_size=3)
PROMPTS = [Prompt("You write captions.", "Lola on the sofa."),
           Prompt("You write captions.", "A much longer request about Lola and a blanket, please.", start="Lola")]


def test_a_shared_prefill_gives_the_same_tokens_as_one_prefill_per_candidate(tiny_writer, tiny_vlm):
    writer = Writer(str(tiny_writer), Runtime("cpu"))
    writer.load()
    enc = writer.tokenizer(writer.prompt_texts(PROMPTS), return_tensors="pt", padding=True, add_special_tokens=False)
    plain = sample(writer.model, dict(enc), SHARP, 5, tokenizer=writer.tokenizer, num_return_sequences=3,
                   share_prefill=False)
    shared = sample(writer.model, dict(enc), SHARP, 5, tokenizer=writer.tokenizer, num_return_sequences=3,
                    share_prefill=True)
    assert plain.shape == (6, 8) and torch.equal(plain, shared)

    vlm = ChatVLM(str(tiny_vlm), Runtime("cpu"))
    vlm.load()
    images = [Image.new("RGB", (80, 50), (200, 100, 50)), Image.new("RGB", (40, 60), (0, 100, 50))]
    enc = vlm.processor(text=vlm.prompt_texts(PROMPTS), images=[[im] for im in images], return_tensors="pt",
                        padding=True)
    enc = to_device(enc, "cpu", vlm.model.dtype)
    plain = sample(vlm.model, enc, SHARP, 5, tokenizer=vlm.processor.tokenizer, num_return_sequences=3,
                   share_prefill=False)
    shared = sample(vlm.model, enc, SHARP, 5, tokenizer=vlm.processor.tokenizer, num_return_sequences=3,
                    share_prefill=True)
    assert torch.equal(plain, shared)


def test_candidates_are_seeded_and_begin_with_the_start(tiny_writer):
    writer = Writer(str(tiny_writer), Runtime("cpu"))
    settings = GenerationSettings(candidates=3, max_new_tokens=10)
    first = writer.write(PROMPTS, settings, seed=11)
    again = writer.write(PROMPTS, settings, seed=11)
    other = writer.write(PROMPTS, settings, seed=12)
    assert first == again and first != other
    assert [len(c) for c in first] == [3, 3]
    assert all(c.startswith("Lola") for c in first[1])
    assert len(set(first[0])) > 1  # sampled, not three copies


def test_special_tokens_are_never_generated(tiny_vlm):
    vlm = ChatVLM(str(tiny_vlm), Runtime("cpu"))
    vlm.load()
    tok = vlm.processor.tokenizer
    banned = suppressed_ids(tok, [tok.eos_token_id])
    for name in ("<image>", "<fake_token_around_image>", "<global-img>", "<row_1_col_1>", "<|im_start|>"):
        assert tok.convert_tokens_to_ids(name) in banned
    assert tok.eos_token_id not in banned
    images = [Image.new("RGB", (64, 64), (10, 20, 30))]
    enc = to_device(vlm.processor(text=vlm.prompt_texts(PROMPTS[:1]), images=[images], return_tensors="pt"),
                    "cpu", vlm.model.dtype)
    new = sample(vlm.model, enc, GenerationSettings(candidates=4, max_new_tokens=24), 3, tokenizer=tok,
                 num_return_sequences=4)
    assert not set(new.flatten().tolist()) & set(banned) - {tok.pad_token_id}


def test_grouped_keeps_each_prompts_candidates_together() -> None:
    assert grouped(["a1", "a2", "b1", "b2"], 2) == [["a1", "a2"], ["b1", "b2"]]


def test_a_candidate_that_ran_out_of_tokens_is_marked_cut_off(tiny_writer):
    from bot.captions.generate import decode

    writer = Writer(str(tiny_writer), Runtime("cpu"))
    writer.load()
    tok = writer.tokenizer
    settings = GenerationSettings(max_new_tokens=4)
    words = tok("Lola naps on", add_special_tokens=False)["input_ids"][:3]
    blank = tok("\n\n", add_special_tokens=False)["input_ids"]
    rows = [[*words, words[0]],  # four tokens, no end: cut off
            [*words, tok.eos_token_id],  # ended by the end token
            (words[:1] + blank + words)[:4],  # ended at a blank line (the stop string)
            words[:2] + [tok.pad_token_id] * 2]  # ended and padded
    out = decode(tok, torch.tensor(rows), settings)
    assert [t.cut_off for t in out] == [True, False, False, False]
    assert out[0] == tok.decode(rows[0])


def test_generation_stops_at_the_end_of_the_first_line(tmp_path):
    from tests.tiny_captions import build_chat_lm, script_model

    # A model that writes a caption, a blank line, then a second answer (a plain prompt: it ends in "Caption:",
    # so the line breaks are only the caption's).
    folder = script_model(build_chat_lm(tmp_path / "two-paragraphs", hidden=64, chat_template=False),
                          ["Lola naps.\n\nPico says hi!"])
    writer = Writer(str(folder), Runtime("cpu"))
    stopped = GenerationSettings(candidates=2, max_new_tokens=30)
    assert stopped.stop_strings == ("\n",)
    for text in writer.write(PROMPTS[:1], stopped, seed=3)[0]:
        assert text.startswith("Lola naps.") and "Pico" not in text and not text.cut_off
    unstopped = GenerationSettings(candidates=2, max_new_tokens=30, stop_strings=())
    assert all("Pico says hi!" in t for t in writer.write(PROMPTS[:1], unstopped, seed=3)[0])
