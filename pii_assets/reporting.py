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
