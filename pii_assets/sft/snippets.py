"""Short content snippets cut from a sample: the sentence around a value, or one without a label.

A sample is cut into *units*: lines, and sentences within a line (a boundary is a line break, or
whitespace after ``.``, ``!`` or ``?``; never inside a labelled value). A snippet is one unit,
extended by its neighbours while it is shorter than ``min_chars`` (a bare form line such as
"PLZ: 10115" gets its neighbour for context), and clipped at word boundaries to a window of
``max_chars`` around the value when the unit is longer (prose paragraphs, long log lines).
So an SFT example shows a sentence or a ~200-character window, not a whole document.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

_BOUNDARY = re.compile(r"[ \t]*\n\s*|(?<=[.!?])[ \t]+(?=\S)")


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    labels: frozenset[str]


def units(text: str, spans: list[dict[str, Any]]) -> list[Unit]:
    """Lines and sentences of ``text`` (trimmed, non-empty) with the labels of the spans in each."""
    starts = [s["start"] for s in spans]

    def inside_span(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and spans[i]["start"] < pos < spans[i]["end"]

    pieces, pos = [], 0
    for m in _BOUNDARY.finditer(text):
        if inside_span(m.start()) or inside_span(m.end()):
            continue
        pieces.append((pos, m.start()))
        pos = m.end()
    pieces.append((pos, len(text)))
    out = []
    for start, end in pieces:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            labels = frozenset(s["label"] for s in spans if start <= s["start"] and s["end"] <= end)
            out.append(Unit(start, end, labels))
    return out


def _extend(us: list[Unit], i: int, min_chars: int, max_chars: int, ok) -> tuple[int, int]:
    lo = hi = i
    while us[hi].end - us[lo].start < min_chars:
        if hi + 1 < len(us) and ok(us[hi + 1]) and us[hi + 1].end - us[lo].start <= max_chars:
            hi += 1
        elif lo > 0 and ok(us[lo - 1]) and us[hi].end - us[lo - 1].start <= max_chars:
            lo -= 1
        else:
            break
    return us[lo].start, us[hi].end


def _clip(text: str, start: int, end: int, keep_start: int, keep_end: int, max_chars: int) -> tuple[int, int]:
    """A window of at most ``max_chars`` inside ``[start, end)`` containing ``[keep_start, keep_end)``,
    cut at spaces."""
    if end - start <= max_chars:
        return start, end
    if keep_end - keep_start >= max_chars:
        return keep_start, keep_end
    ws = max(start, keep_start - (max_chars - (keep_end - keep_start)) // 2)
    we = min(end, ws + max_chars)
    ws = max(start, we - max_chars)
    if ws > start and not text[ws - 1].isspace():
        space = text.find(" ", ws, keep_start)
        ws = space + 1 if space != -1 else ws
    if we < end and not text[we].isspace():
        space = text.rfind(" ", keep_end, we)
        we = space if space != -1 else we
    while ws < keep_start and text[ws].isspace():
        ws += 1
    while we > keep_end and text[we - 1].isspace():
        we -= 1
    return ws, we


def positive_window(text: str, us: list[Unit], span: dict[str, Any], min_chars: int,
                    max_chars: int) -> tuple[int, int]:
    """Bounds of the snippet around ``span`` (the value is always inside, whole)."""
    i = next(k for k, u in enumerate(us) if u.start <= span["start"] < u.end)
    start, end = _extend(us, i, min_chars, max_chars, lambda u: True)
    return _clip(text, start, end, span["start"], span["end"], max_chars)


def negative_window(text: str, us: list[Unit], i: int, label: str, min_chars: int,
                    max_chars: int) -> tuple[int, int]:
    """Bounds of a snippet around unit ``i`` (which has no ``label``) with no ``label`` value in it."""
    start, end = _extend(us, i, min_chars, max_chars, lambda u: label not in u.labels)
    return _clip(text, start, end, start, start, max_chars)


def spans_in(spans: list[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    return [s for s in spans if start <= s["start"] and s["end"] <= end]
