"""Terminal output and the CLI's input and output paths."""

import os
import threading

import pytest

from pii_assets.reporting import markdown_table
from pii_assets.terminal import aligned, output_stream


def test_markdown_tables_are_aligned_and_other_lines_kept():
    text = "title\n\n" + markdown_table([("en", 1200, "0.91"), ("de|x", 7, "-")], ("language", "samples", "f1")) + "\nend"
    assert aligned(text).split("\n") == [
        "title",
        "",
        "language  samples    f1",
        "--------  -------  ----",
        "en           1200  0.91",
        "de|x            7     -",
        "end",
    ]


def test_a_regular_file_is_replaced_atomically_and_kept_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with output_stream(str(target)) as fh:
            fh.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.jsonl"]
    with output_stream(str(target)) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n"


def test_a_symlink_is_written_through_not_replaced(tmp_path):
    """/dev/stdout is a symlink: a rename onto it would replace the link and print nothing."""
    real, link = tmp_path / "real.txt", tmp_path / "stdout"
    real.write_text("")
    link.symlink_to(real)
    with output_stream(str(link)) as fh:
        fh.write("spans\n")
    assert link.is_symlink() and real.read_text() == "spans\n"


def test_a_fifo_is_written_directly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with output_stream(str(fifo)) as fh:
        fh.write("line\n")
    reader.join(timeout=10)
    assert received == ["line\n"] and fifo.is_fifo()
