"""Small builders shared by tests: table files in every accepted format, and tiny random
transformers models (built from a config: no download) for the plumbing around models."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROWS = [
    {"examples": "The cat sat on the mat.", "ground_truth": "A cat sat.", "lang": "en"},
    {"examples": "Olá, «mundo»! 你好 🌍", "ground_truth": 'Greeting, with quotes "inside"', "lang": "pt"},
    {"examples": "Line one\nline two, with a comma", "ground_truth": "Two lines.", "lang": "en"},
]


def csv_bytes(rows: list[dict[str, str]] = ROWS) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def jsonl_bytes(rows: list[dict[str, str]] = ROWS) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def parquet_bytes(rows: list[dict[str, str]] = ROWS) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


FILES = {"csv": csv_bytes, "jsonl": jsonl_bytes, "parquet": parquet_bytes}


def nltk_word_tokenize(text: str) -> list[str]:
    """nltk's ``word_tokenize`` (what Lumigator's METEOR tokenizes with), built from nltk itself.

    With nltk's English Punkt data installed it is nltk's own function; without it (it cannot be
    downloaded here) nltk's untrained Punkt splits the sentences, as Assay's METEOR then does.
    """
    from nltk.tokenize import NLTKWordTokenizer, punkt_model_available, word_tokenize
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    if punkt_model_available("english"):
        return list(word_tokenize(text))
    words = NLTKWordTokenizer()
    return [
        token for sentence in PunktSentenceTokenizer().tokenize(text) for token in words.tokenize(sentence)
    ]


TINY_WORDS = ["<pad>", "<s>", "</s>", "<unk>", "summarize", ":"]
TINY_WORDS += "the cat sat on a mat dog ran far away and then slept all day long".split()  # noqa: SIM905


def save_tiny_tokenizer(folder: Path, chat_template: str | None = None) -> Any:
    """A word-level tokenizer over ``TINY_WORDS``: enough for a random model to read and write text."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {token: index for index, token in enumerate(TINY_WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_tiny_gpt2(folder: Path, chat_template: str | None = None) -> None:
    """A causal LM of one small layer, with random (seeded) weights, saved as a model folder."""
    import torch
    import transformers

    tokenizer = save_tiny_tokenizer(folder, chat_template)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=1,
        eos_token_id=2,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
