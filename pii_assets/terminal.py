"""What the CLI shows on a terminal, and where its input and output go.

- Tables are built as markdown (``reporting.markdown_table``). On a terminal ``emit`` re-aligns
  them as plain columns; piped, or with ``--markdown``, they stay markdown for files and reports.
- ``-`` is standard input or standard output. A regular path is written atomically (temp file and
  rename); a path that exists and is not a regular file (``/dev/stdout``, a FIFO, a device) or is a
  symlink is written directly, never replaced.
- Long loops get a tqdm bar on standard error (rate and time left) when it is a terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pii_assets.storage import atomic_writer, iter_jsonl, read_jsonl

STDIO = "-"
_SEPARATOR = re.compile(r"\|(\s*:?-+:?\s*\|)+")
_CELL = re.compile(r"(?<!\\)\|")
_NUMBER = re.compile(r"[-+]?[\d.,]+%?|-|")


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in _CELL.split(line.strip())[1:-1]]


def _aligned_table(lines: list[str]) -> list[str]:
    rows = [_cells(line) for line in lines if not _SEPARATOR.fullmatch(line.strip())]
    width = max(map(len, rows))
    rows = [row + [""] * (width - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(width)]
    numeric = [all(_NUMBER.fullmatch(row[i]) for row in rows[1:]) and len(rows) > 1 for i in range(width)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(c.rjust(w) if num else c.ljust(w)
                             for c, w, num in zip(row, widths, numeric)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def aligned(text: str) -> str:
    """``text`` with each markdown pipe table re-drawn as aligned columns (numbers right-aligned)."""
    out: list[str] = []
    table: list[str] = []
    for line in text.split("\n"):
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            out.extend(_aligned_table(table))
            table = []
        out.append(line)
    if table:
        out.extend(_aligned_table(table))
    return "\n".join(out)


def emit(text: str, markdown: bool = False, stream: IO[str] | None = None) -> None:
    """Print ``text``: tables aligned on a terminal, markdown when asked for or piped."""
    stream = stream or sys.stdout
    print(text if markdown or not stream.isatty() else aligned(text), file=stream)


def jsonl_input(path: str) -> Iterator[tuple[int, Any]]:
    """``(line_number, object)`` pairs of a JSONL file, or of standard input for ``-``."""
    if path == STDIO:
        return iter_jsonl(sys.stdin.buffer, "<stdin>")
    return read_jsonl(path)


def is_stdout(path: str | None) -> bool:
    return path in (None, STDIO)


@contextmanager
def output_stream(path: str | None) -> Iterator[IO[str]]:
    """Where ``--output`` goes: standard output for ``-`` or none, else the path (see module doc)."""
    if is_stdout(path):
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        with open(target, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
    else:
        with atomic_writer(target) as fh:
            yield fh


def progress(total: int | None, unit: str):
    """A tqdm bar on standard error with rate and time left; silent when it is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", file=sys.stderr, disable=not sys.stderr.isatty(),
                dynamic_ncols=True, smoothing=0.1)
