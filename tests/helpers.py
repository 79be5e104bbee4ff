"""Small builders shared by tests: table files in every accepted format."""

from __future__ import annotations

import io
import json

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
