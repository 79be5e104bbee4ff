"""Table validation and conversion without HTTP: every rule on small inputs."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assay.datasets.formats import detect_format, safe_filename, sniff_format, with_extension
from assay.datasets.ingest import TableIngest, TableSummary, convert_table
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
