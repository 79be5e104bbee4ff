"""The side by side's order, computed on Arrow columns, is the order that sorting the rows by
their spread gives (largest first, ties in example order, fewer than two scores count 0)."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from assay.errors import InvalidInputError
from assay.services.comparison import SCORE_PREFIX, _by_disagreement, spread


def _tables(seed: int, count: int) -> list[pa.Table]:
    generator = random.Random(seed)

    def score() -> float | None:
        return None if generator.random() < 0.2 else generator.choice([0.0, 0.25, 0.5, generator.random()])

    with_score = [pa.table({f"{SCORE_PREFIX}rouge1": [score() for _ in range(count + i)]}) for i in range(3)]
    without = pa.table({f"{SCORE_PREFIX}bleu": [0.5] * count})
    return [*with_score, without]


@pytest.mark.parametrize("seed", range(5))
def test_the_order_is_the_rows_sorted_by_spread(seed: int) -> None:
    count = 300
    tables = _tables(seed, count)
    rows = [
        {
            "index": index,
            "outputs": {
                str(n): {"scores": {name[len(SCORE_PREFIX) :]: table.column(name)[index].as_py()}}
                for n, table in enumerate(tables)
                for name in table.column_names
            },
        }
        for index in range(count)
    ]
    expected = [row["index"] for row in sorted(rows, key=lambda row: -spread(row, "rouge1"))]
    assert _by_disagreement(tables, "rouge1", count).to_pylist() == expected


def test_an_unknown_score_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as refused:
        _by_disagreement(_tables(0, 10), "meteor", 10)
    assert refused.value.field == "disagreement" and "bleu, rouge1" in str(refused.value)
