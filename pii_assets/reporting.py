"""Plain-text and markdown renderings used in metadata, the CLI summary and the docs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def markdown_table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)


def counts_table(counts: Mapping[str, int], key: str, order: Iterable[str] | None = None) -> str:
    keys = list(order) if order is not None else sorted(counts, key=lambda k: (-counts[k], k))
    total = sum(counts.values()) or 1
    return markdown_table(
        ((k, counts.get(k, 0), f"{100 * counts.get(k, 0) / total:.1f}%") for k in keys),
        (key, "count", "share"),
    )


def prf_table(rows: Iterable[tuple[str, Mapping[str, Any]]], key: str,
              f1_intervals: Mapping[str, Iterable[float]] | None = None) -> str:
    """Rows of (name, {"precision", "recall", "f1", "support"}) as a markdown table, with a column
    of each row's F1 interval (low, high) when ``f1_intervals`` is given."""
    def interval(name: str) -> list[str]:
        if f1_intervals is None:
            return []
        return ["{:.2f}-{:.2f}".format(*f1_intervals[name]) if name in f1_intervals else ""]

    return markdown_table(((name, m["precision"], m["recall"], m["f1"], *interval(name), m["support"])
                           for name, m in rows),
                          (key, "P", "R", "F1", *(["F1 95% interval"] if f1_intervals is not None else []),
                           "support"))


def external_results(document: Mapping[str, Any], first: str | None = None) -> dict[str, dict[str, Any]]:
    """``results`` of an ``external_evaluation.json`` (``{set: {system: figures}}``) with each set's
    systems in the order they were scored (``systems``; the file's keys are sorted), ``first`` moved
    to the front: the order of the figures tables, whose first system's strings are listed."""
    order = list(document.get("systems") or [])
    if first is not None:
        order = [first, *(s for s in order if s != first)]
    rank = {system: i for i, system in enumerate(order)}
    return {name: {s: by_system[s] for s in sorted(by_system, key=lambda s: (rank.get(s, len(rank)), s))}
            for name, by_system in (document.get("results") or {}).items()}


def highlight(sample: Mapping[str, Any]) -> str:
    """The sample's text with every span shown as ``[value](LABEL)``."""
    text, out, pos = sample["text"], [], 0
    for span in sample.get("privacy_mask", ()):
        out.append(text[pos:span["start"]])
        out.append(f"[{span['value']}]({span['label']})")
        pos = span["end"]
    out.append(text[pos:])
    return "".join(out)


def samples_markdown(samples: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for s in samples:
        meta = s.get("meta", {})
        parts.append(
            f"**{s.get('id', '?')}** ({s['language']}/{s['country']}, {meta.get('genre', '')} "
            f"{meta.get('kind', '')}, {len(s.get('privacy_mask', ()))} spans, "
            f"{len(s.get('coreferences', ()))} coref clusters)\n\n"
            "```text\n" + highlight(s).replace("```", "'''") + "\n```"
        )
    return "\n\n".join(parts)


INLINE_MARKDOWN_LIMIT = 1000
"""Dagster's UI renders a markdown metadata value in place on the asset page when it is shorter
than this; a longer one sits behind a "[Show Markdown]" link (measured on dagster-webserver 1.13)."""


def _svg_markdown(svg: str, alt: str) -> str:
    import base64

    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"


def _thinned(points: list, keep: int) -> list:
    """At most ``keep`` of ``points``, evenly spaced, the first and last always among them."""
    if len(points) <= keep:
        return points
    return [points[round(i * (len(points) - 1) / (keep - 1))] for i in range(keep)]


def training_curve_markdown(losses: list[tuple[int, float]], history: list[Mapping[str, Any]]) -> str:
    """An SVG image, small enough for the UI to show in place: the training loss at every progress
    step (red) and the validation macro F1 at every validation (blue, 0 to 1), with their end values."""
    if not losses:
        return "no training steps"
    width, height, top = 300, 90, 14
    last_step = max(step for step, _ in losses)
    peak = max(loss for _, loss in losses) or 1.0
    f1 = [(h["step"], h["val_macro_f1"]) for h in history if "val_macro_f1" in h]

    def x(step: int) -> int:
        return round(step / last_step * (width - 1))

    def line(points: list[tuple[int, float]], scale: float, color: str) -> str:
        coords = " ".join(f"{x(step)},{round(height - value / scale * (height - top))}" for step, value in points)
        return f"<polyline fill='none' stroke='{color}' points='{coords}'/>"

    caption = (f"loss {losses[0][1]:.3g} to {losses[-1][1]:.3g}"
               + (f", val macro F1 {f1[-1][1]:.3f} (best {max(v for _, v in f1):.3f})" if f1 else "")
               + f", {last_step} steps")
    for keep in (60, 40, 25, 15, 8):
        svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 2}' font-size='10' "
               f"font-family='sans-serif' style='background:#fff'><text x='2' y='10'>{caption}</text>"
               f"{line(_thinned(losses, keep), peak, '#d62728')}{line(_thinned(f1, keep), 1.0, '#1f77b4')}</svg>")
        markdown = _svg_markdown(svg, "training curve")
        if len(markdown) < INLINE_MARKDOWN_LIMIT:
            return markdown
    return caption


def f1_bars_markdown(f1_by_label: Mapping[str, float], width: int = 10) -> str:
    """F1 per label, weakest first, with a bar of block characters: a chart short enough for the UI
    to show in place (the full table with precision, recall and intervals is beside it)."""
    rows = sorted(f1_by_label.items(), key=lambda item: (item[1], item[0]))
    return markdown_table(((label, f"{f1:.2f}", "\u2588" * round(f1 * width)) for label, f1 in rows),
                          ("label", "F1", ""))
