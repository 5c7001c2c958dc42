"""Tiny random-weight caption models built locally: a SmolVLM-style chat VLM, BLIP, and a chat causal LM.

Each is saved with `save_pretrained` into a folder and then loaded by the product's normal code path.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

# Words for the tiny tokenizers: enough for captions to read as (random) words, with the test pets' names.
CORPUS = [
    "Lola is a tiny fawn chihuahua who loves blankets and hates rain.",
    "Pico is a black and tan puppy with huge ears, curious and clumsy.",
    "Mochi the cat naps in the sun on the sofa by the window.",
    "A small dog sitting on a couch with a blanket. Happy sunday from the couch!",
    "Walk time in the park, my favourite place. Treats, please? Good morning!",
    "I am so sleepy today. Who wants to play ball with me in the garden?",
    "#chihuahua #rescuedog #lolathechihuahua #picothechi #caturday @friend",
    "Caption: Assistant: User: System: write one short caption for this photo.",
]

# What the scripted models say: each names Lola, none repeats itself; they share only "Lola" and the endings.
SCRIPTED_CAPTIONS = [
    "Lola naps on her blanket.",
    "Lola says good morning!",
    "Lola loves treats.",
]
VLM_CHAT_TEMPLATE = (  # SmolVLM's own template
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

LM_CHAT_TEMPLATE = (  # SmolLM2's ChatML template
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
    " + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _prompt_words() -> list[str]:
    # The prompt templates and the example config's words, so that prompts take few tokens (faster tests).
    from bot.captions import templates

    example = (Path(__file__).resolve().parents[1] / "config.example.toml").read_text()
    # Not the module's dunders: __file__ would make the vocabulary (and every tiny model) depend on the checkout path.
    texts = [v for k, v in vars(templates).items() if isinstance(v, str) and not k.startswith("__")]
    settings = [line for line in example.splitlines() if "=" in line and not line.lstrip().startswith("#")]
    return (texts + [line.split("#")[0].strip() for line in settings]) * 4


def byte_bpe_tokenizer(special: list[str], vocab_size: int = 1000):
    """A byte-level BPE tokenizer trained on CORPUS in milliseconds (any text encodes and decodes)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # The corpus weighs most, so its phrases (what the tiny models learn to write) stay a few tokens each however
    # the templates and the example config grow.
    tok.train_from_iterator(CORPUS * 40 + _prompt_words() + SCRIPTED_CAPTIONS * 50, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def chat_lm_tokenizer(chat_template: bool = True):
    """SmolLM2's special tokens and ChatML template (or no template), on the tiny BPE vocabulary."""
    tokenizer = byte_bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_special_tokens({"eos_token": "<|im_end|>", "bos_token": "<|im_start|>",
                                  "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
    if chat_template:
        tokenizer.chat_template = LM_CHAT_TEMPLATE
    return tokenizer


def vlm_tokenizer():
    """SmolVLM's special tokens (image placeholders, tile grid, end of utterance) on the tiny BPE vocabulary."""
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    tokenizer = byte_bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<image>",
                                    "<fake_token_around_image>", "<global-img>", *grid])
    tokenizer.add_special_tokens({"eos_token": "<end_of_utterance>", "bos_token": "<|im_start|>",
                                  "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
    return tokenizer


def build_chat_lm(folder: Path, *, hidden: int = 32, layers: int = 2, chat_template: bool = True,
                  seed: int = 0) -> Path:
    """A SmolLM2-style Llama causal LM with a ChatML template (or none: the plain-prompt path)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)  # the same weights whatever ran before in this process (or test worker)

    tokenizer = chat_lm_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_chat_vlm(folder: Path, *, hidden: int = 32, image_size: int = 32, patch: int = 8, seed: int = 0) -> Path:
    """A SmolVLM-shaped Idefics3 model: SigLIP-style vision tower, pixel-shuffle connector, Llama text model.

    The real SmolVLMProcessor needs torchvision for its video processor; Idefics3Processor has the same image
    processor, chat template and image-token expansion, and loads through AutoProcessor the same way.
    """
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    torch.manual_seed(seed)  # the same weights whatever ran before in this process (or test worker)

    tokenizer = vlm_tokenizer()
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=True, size={"longest_edge": image_size * 2}, max_image_size={"longest_edge": image_size},
    )
    scale = 2
    image_seq_len = (image_size // patch) ** 2 // scale**2
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len,
                                  chat_template=VLM_CHAT_TEMPLATE)
    text = {"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": hidden,
            "intermediate_size": hidden * 2, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 4096, "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    vision = {"hidden_size": hidden, "intermediate_size": hidden * 2, "num_hidden_layers": 1,
              "num_attention_heads": 2, "image_size": image_size, "patch_size": patch}
    config = Idefics3Config(vision_config=vision, text_config=text, scale_factor=scale,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = Idefics3ForConditionalGeneration(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_blip(folder: Path, *, hidden: int = 32, image_size: int = 32, seed: int = 0) -> Path:
    """A tiny BLIP image-captioning model (the describer) with a small WordPiece vocabulary."""
    import re

    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    torch.manual_seed(seed)  # the same weights whatever ran before in this process (or test worker)
    words = sorted({w.lower() for line in CORPUS for w in re.findall(r"[A-Za-z]+", line)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *words, ".", ",", "!", "?"]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab_file), do_lower_case=True)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": image_size, "width": image_size}), tokenizer=tokenizer,
    )
    config = BlipConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": hidden, "intermediate_size": hidden * 2,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "encoder_hidden_size": hidden,
                     "bos_token_id": 5, "pad_token_id": 0, "sep_token_id": 3, "eos_token_id": 3,
                     "max_position_embeddings": 64},
        vision_config={"hidden_size": hidden, "intermediate_size": hidden * 2, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "image_size": image_size, "patch_size": 8},
        projection_dim=hidden,
    )
    model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# How the prompts end: ChatML's assistant turn, SmolVLM's "Assistant:", the plain prompt's "Caption:".
PROMPT_ENDINGS = ["<|im_start|>assistant\n", "<end_of_utterance>\nAssistant:", "\n\nCaption:"]


def script_model(folder: Path, captions: list[str] = SCRIPTED_CAPTIONS) -> Path:
    """Rewrite a saved tiny model so that after any prompt it says one of `captions` (chosen at random).

    Random weights write gibberish that fails the name rule; this lets tests follow a passing caption through
    ranking, approval and editing. The attention and MLP outputs are zeroed, so each position's hidden state is
    its own token's embedding: the model becomes a bigram table, programmed with orthonormal embeddings for the
    tokens involved and an output matrix that maps each to its successor(s). Built in milliseconds.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

    config_text = (folder / "config.json").read_text()
    vlm = '"idefics3"' in config_text
    model = (AutoModelForImageTextToText if vlm else AutoModelForCausalLM).from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    eos = tokenizer.convert_tokens_to_ids("<end_of_utterance>" if vlm else "<|im_end|>")
    successors: dict[int, set[int]] = {}
    openers = {tokenizer(e, add_special_tokens=False)["input_ids"][-1] for e in PROMPT_ENDINGS}
    for caption in captions:
        ids = tokenizer(caption, add_special_tokens=False)["input_ids"] + [eos]
        for opener in openers:
            successors.setdefault(opener, set()).add(ids[0])
        for cur, nxt in itertools.pairwise(ids):
            successors.setdefault(cur, set()).add(nxt)
    branching = [t for t, nxt in successors.items() if len(nxt) > 1 and t not in openers]
    assert len(branching) <= 1, f"captions share tokens {tokenizer.convert_ids_to_tokens(branching)}; reword them"
    embed, head = model.get_input_embeddings(), model.get_output_embeddings()
    hidden = embed.weight.shape[1]
    tokens = sorted(set(successors) | {t for nxt in successors.values() for t in nxt})
    assert len(tokens) <= hidden, "too many scripted tokens for the hidden size"
    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(hidden, hidden))[0]
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                param.zero_()
        for i, token in enumerate(tokens):
            embed.weight[token] = basis[i]
        head.weight.zero_()
        for cur, nexts in successors.items():
            for nxt in nexts:
                head.weight[nxt] += 8.0 * embed.weight[cur]  # logit ~ 8 * sqrt(hidden) for the successor
    model.save_pretrained(folder)
    return folder


def captioner_models(folder: Path) -> dict[str, str]:
    """[models] keys for a one-stage home: the chat VLM in `folder` writes the captions."""
    return {"captioner": str(folder)}


def two_stage_models(describer: Path, writer: Path) -> dict[str, str]:
    """[models] keys for a two-stage home: `describer` says what the photo shows, `writer` writes the caption."""
    return {"describer": str(describer), "writer": str(writer)}


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_chat_vlm(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="session")
def tiny_writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_chat_lm(tmp_path_factory.mktemp("tiny-writer"))


@pytest.fixture(scope="session")
def scripted_writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chat LM that says one of SCRIPTED_CAPTIONS (captions that pass the rules for a photo of Lola)."""
    return script_model(build_chat_lm(tmp_path_factory.mktemp("scripted-writer"), hidden=64))


@pytest.fixture(scope="session")
def scripted_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SmolVLM-style chat VLM that says one of SCRIPTED_CAPTIONS, whatever the photo."""
    return script_model(build_chat_vlm(tmp_path_factory.mktemp("scripted-vlm"), hidden=64))


@pytest.fixture(scope="session")
def tiny_plain_writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A causal LM without a chat template: the writer falls back to a plain prompt."""
    return build_chat_lm(tmp_path_factory.mktemp("tiny-plain-writer"), chat_template=False)
