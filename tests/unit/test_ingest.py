"""Table validation and conversion without HTTP: every rule on small inputs."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assay.datasets.formats import detect_format, safe_filename, sniff_format, with_extension
from assay.datasets.ingest import MAX_ROW_BYTES, TableIngest, TableSummary, convert_table
from assay.datasets.streams import MAX_JSON_DEPTH
from assay.errors import InvalidInputError
from assay.storage.local import LocalObjectStore
from tests.helpers import FILES, ROWS


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path)


def convert(
    store: LocalObjectStore, kind: str, content: bytes
) -> tuple[TableSummary, list[dict[str, object]]]:
    writer = store.open_writer("out.parquet")
    summary = convert_table(kind, io.BytesIO(content), writer)
    writer.commit()
    return summary, pq.read_table(store.path_of("out.parquet")).to_pylist()


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_each_format_converts_to_the_same_table(store: LocalObjectStore, kind: str) -> None:
    summary, rows = convert(store, kind, FILES[kind]())
    assert rows == ROWS
    assert summary.row_count == 3 and summary.ground_truth
    assert [column["name"] for column in summary.columns] == ["examples", "ground_truth", "lang"]


def test_csv_keeps_every_value_as_text(store: LocalObjectStore) -> None:
    summary, rows = convert(store, "csv", "\ufeffexamples,score\n007,1.50\ntrue,\n".encode())
    assert rows == [{"examples": "007", "score": "1.50"}, {"examples": "true", "score": ""}]
    assert summary.ground_truth is False


def test_jsonl_numbers_in_text_columns_become_text(store: LocalObjectStore) -> None:
    _, rows = convert(store, "jsonl", b'{"examples": 12, "ground_truth": 3.5, "n": 1}\n')
    assert rows == [{"examples": "12", "ground_truth": "3.5", "n": 1}]


def test_missing_ground_truth_values_clear_the_flag(store: LocalObjectStore) -> None:
    summary, _ = convert(store, "jsonl", b'{"examples": "a", "ground_truth": "x"}\n{"examples": "b"}\n')
    assert summary.ground_truth is False


def test_errors_name_the_problem(store: LocalObjectStore) -> None:
    with pytest.raises(InvalidInputError, match="required column 'examples'") as caught:
        convert(store, "csv", b"input\nx\n")
    assert caught.value.field == "dataset"
    with pytest.raises(InvalidInputError, match="duplicate column names: a"):
        convert(store, "csv", b"examples,a,a\n1,2,3\n")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        convert(store, "csv", b"examples\nok\n" + b"\xff\xfe" * 10 + b"\n")


def test_threaded_ingest_reports_parser_errors_and_results(store: LocalObjectStore) -> None:
    good = TableIngest("csv", store.open_writer("good.parquet"))
    for piece in (b"examples,ground", b"_truth\nhello,", b"world\n"):
        good.feed(piece)
    assert good.finish().row_count == 1

    bad = TableIngest("csv", store.open_writer("bad.parquet"))
    bad.feed(b"nothing,here\n1,2\n")
    with pytest.raises(InvalidInputError, match="required column"):
        bad.finish()


def test_formats_by_name_or_content() -> None:
    assert detect_format("a.CSV") == "csv" and detect_format("b.ndjson") == "jsonl"
    assert detect_format("no_extension") is None
    with pytest.raises(InvalidInputError, match="no supported extension"):
        detect_format("sheet.xlsx")
    assert sniff_format(b"PAR1\x00") == "parquet"
    assert sniff_format(b'\n  {"examples": 1}') == "jsonl"
    assert sniff_format(b"examples\n") == "csv"
    assert with_extension("dataset", "csv") == "dataset.csv" and with_extension("a.csv", "csv") == "a.csv"
    assert safe_filename('../../etc/pa"ss\x00wd.csv') == "passwd.csv"


def awkward_rows(count: int) -> list[dict[str, str]]:
    """Values that trip a block-wise parser: quoted line ends (LF and CRLF), doubled quotes,
    multi-byte characters, and one value longer than several upload blocks."""
    rows = []
    for i in range(count):
        example = f'row {i}: "quoted", comma, line\r\nbreak, ünïcödé \U0001d518 {"x" * (i % 97)}'
        rows.append({"examples": example, "ground_truth": f"truth\n{i} ✓"})
    rows[count // 2]["examples"] = "long " + "y" * (3 * 1024 * 1024)
    return rows


def feed_in_blocks(ingest: TableIngest, content: bytes, sizes: tuple[int, ...]) -> None:
    """Feed ``content`` in blocks of the given sizes, in turn: most cut rows, quotes, CRLF
    pairs and UTF-8 sequences somewhere in the middle."""
    offset = 0
    for size in itertools.cycle(sizes):
        if offset >= len(content):
            return
        ingest.feed(content[offset : offset + size])
        offset += size


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_streamed_blocks_give_the_table_of_the_whole_file(store: LocalObjectStore, kind: str) -> None:
    rows = awkward_rows(20_000)
    if kind == "csv":
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, ["examples", "ground_truth"], lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        content = text.getvalue().encode()
    else:
        content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    assert len(content) > 4 * 1024 * 1024
    sink = store.open_writer("streamed.parquet")
    ingest = TableIngest(kind, sink)
    feed_in_blocks(ingest, content, (1024 * 1024 + 1, 65_537, 3, 2 * 1024 * 1024 - 7))
    summary = ingest.finish()
    sink.commit()
    assert summary.row_count == len(rows) and summary.ground_truth
    assert pq.read_table(store.path_of("streamed.parquet")).to_pylist() == rows


def test_a_row_longer_than_the_limit_is_named(store: LocalObjectStore) -> None:
    content = b"examples\n" + b"z" * (MAX_ROW_BYTES + 1024 * 1024) + b"\nshort\n"
    ingest = TableIngest("csv", store.open_writer("long.parquet"))
    with pytest.raises(InvalidInputError, match="longer than 8 MiB"):
        feed_in_blocks(ingest, content, (1024 * 1024,))
        ingest.finish()


def test_bad_utf8_far_into_the_file_names_its_offset(store: LocalObjectStore) -> None:
    good = b"examples\n" + b"fine text\n" * 300_000
    content = good + b"caf\xe9\n"
    ingest = TableIngest("csv", store.open_writer("bad.parquet"))
    with pytest.raises(InvalidInputError, match=f"not UTF-8 text \\(byte {len(good) + 3}\\)"):
        feed_in_blocks(ingest, content, (1024 * 1024,))
        ingest.finish()


def jsonl_line(tree: str, text: str = "x") -> bytes:
    return (json.dumps({"examples": text})[:-1] + f', "tree": {tree}}}\n').encode()


def test_jsonl_nesting_is_limited_before_arrow_parses_the_line(store: LocalObjectStore) -> None:
    at_limit = jsonl_line("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    summary, _ = convert(store, "jsonl", at_limit)
    assert summary.row_count == 1
    too_deep = jsonl_line("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(
        InvalidInputError, match=f"line 3 nests arrays or objects deeper than {MAX_JSON_DEPTH}"
    ):
        convert(store, "jsonl", at_limit * 2 + too_deep + at_limit)


def test_brackets_inside_strings_do_not_count_as_nesting(store: LocalObjectStore) -> None:
    text = '[[[{{{ "quoted" \\" [[[ ' * 100
    summary, rows = convert(store, "jsonl", jsonl_line('{"a": [3], "b": {"c": [[4]]}}', text) * 2)
    assert summary.row_count == 2 and rows[0]["examples"] == text


def test_deep_nesting_far_into_a_streamed_file_names_its_line(store: LocalObjectStore) -> None:
    """Lines span the pipe's blocks: the count of lines and the open line carry across reads."""
    rows = b"".join(
        jsonl_line("[1]", "y" * random_size)
        for random_size in itertools.islice(itertools.cycle((10, 3000, 70_000)), 300)
    )
    deep = jsonl_line("[" * 10_000 + "]" * 10_000, "z" * 5_000_000)
    ingest = TableIngest("jsonl", store.open_writer("deep.parquet"))
    with pytest.raises(InvalidInputError, match="line 301 nests"):
        feed_in_blocks(ingest, rows + deep + rows, (65_537, 1024 * 1024 + 1))
        ingest.finish()
