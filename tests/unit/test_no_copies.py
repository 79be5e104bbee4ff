"""No block of more than 10 identical lines written twice inside ``src/assay``: a check a reviewer
can repeat.

Each source line is normalised (surrounding whitespace stripped, inner runs of whitespace made
one space); blank lines, comment lines and import lines are skipped, so a copy cannot hide behind
a changed indent or an added blank line, and two modules that merely import the same names are
not a copy. Every window of ``MIN_LINES`` consecutive kept lines is hashed; a window seen twice
(in two files, or twice in one file at places that do not overlap) is a copy, reported as the
longest run it belongs to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import assay

ROOT = Path(assay.__file__).parent
MIN_LINES = 11
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Line:
    path: str
    number: int
    text: str


def kept_lines(path: Path, name: str) -> list[Line]:
    """The lines that count, normalised, with their line numbers."""
    kept = []
    in_import = False
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        text = _SPACES.sub(" ", raw.strip())
        if in_import:  # the rest of a parenthesised ``from x import (...)``
            in_import = not text.endswith(")")
            continue
        if not text or text.startswith("#"):
            continue
        if text.startswith(("import ", "from ")) and " import " in f" {text} ":
            in_import = text.endswith("(")
            continue
        kept.append(Line(name, number, text))
    return kept


def find_copies(files: dict[str, list[Line]], size: int = MIN_LINES) -> list[tuple[Line, Line, int]]:
    """``(first place, second place, length)`` of each run of ``size`` or more kept lines that
    occurs twice; a longer run is reported once, not as each of its windows."""
    seen: dict[tuple[str, ...], list[Line]] = defaultdict(list)
    for lines in files.values():
        for start in range(len(lines) - size + 1):
            seen[tuple(line.text for line in lines[start : start + size])].append(lines[start])
    copies: list[tuple[Line, Line, int]] = []
    covered: set[tuple[str, int, str, int]] = set()
    index = {
        (line.path, line.number): position for lines in files.values() for position, line in enumerate(lines)
    }
    for places in seen.values():
        for first, second in _pairs(places, index, size):
            key = (first.path, first.number, second.path, second.number)
            if key in covered:
                continue
            length = size
            a, b = index[(first.path, first.number)], index[(second.path, second.number)]
            ours, theirs = files[first.path], files[second.path]
            while (
                a + length < len(ours)
                and b + length < len(theirs)
                and ours[a + length].text == theirs[b + length].text
                and not (first.path == second.path and a + length >= b)
            ):
                length += 1
            for offset in range(length - size + 1):
                covered.add((first.path, ours[a + offset].number, second.path, theirs[b + offset].number))
            copies.append((first, second, length))
    return copies


def _pairs(places: list[Line], index: dict[tuple[str, int], int], size: int) -> list[tuple[Line, Line]]:
    """Each place paired with the first one before it that the window does not overlap."""
    pairs = []
    for later in places[1:]:
        for earlier in places:
            if earlier is later:
                break
            overlapping = (
                earlier.path == later.path
                and index[(later.path, later.number)] - index[(earlier.path, earlier.number)] < size
            )
            if not overlapping:
                pairs.append((earlier, later))
                break
    return pairs


def source_files() -> dict[str, list[Line]]:
    return {
        str(path.relative_to(ROOT.parent)): kept_lines(path, str(path.relative_to(ROOT.parent)))
        for path in sorted(ROOT.rglob("*.py"))
    }


def test_the_checker_finds_a_copy_despite_indent_blanks_and_comments(tmp_path: Path) -> None:
    body = [f"value_{i} = compute({i})" for i in range(12)]
    (tmp_path / "a.py").write_text("import os\n" + "\n".join(body) + "\n")
    indented = "\n".join(f"    {line}\n    # a remark\n" for line in body)
    (tmp_path / "b.py").write_text(f"from x import (\n    y,\n)\ndef f():\n{indented}\n")
    (tmp_path / "c.py").write_text("\n".join(body[:10]) + "\n")  # 10 lines: allowed
    files = {name: kept_lines(tmp_path / name, name) for name in ("a.py", "b.py", "c.py")}
    copies = find_copies(files)
    assert [(first.path, first.number, second.path, length) for first, second, length in copies] == [
        ("a.py", 2, "b.py", 12)
    ]


def test_src_assay_has_no_block_of_more_than_ten_lines_written_twice() -> None:
    copies = find_copies(source_files())
    assert not copies, "blocks written twice in src/assay:\n" + "\n".join(
        f"{length} lines: {first.path}:{first.number} and {second.path}:{second.number}"
        for first, second, length in sorted(copies, key=lambda copy: -copy[2])
    )
