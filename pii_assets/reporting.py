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


def image_markdown(png: bytes, alt: str = "plot") -> str:
    import base64

    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def training_curve_png(history: list[Mapping[str, Any]]) -> bytes:
    """Training loss and validation macro/micro F1 against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["loss"] for h in history], color="tab:red", label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if any("val_macro_f1" in h for h in history):
        ax2 = ax.twinx()
        ax2.plot(steps, [h.get("val_macro_f1") for h in history], color="tab:blue", label="val macro F1")
        ax2.plot(steps, [h.get("val_micro_f1") for h in history], color="tab:cyan", label="val micro F1")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("F1")
        ax2.legend(loc="lower right")
    ax.legend(loc="upper right")
    return _png(fig)


def per_label_f1_png(f1_by_label: Mapping[str, float], title: str = "test F1 per label") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(f1_by_label)
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(labels) + 1))
    ax.barh(labels[::-1], [f1_by_label[l] for l in labels][::-1], color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    return _png(fig)
