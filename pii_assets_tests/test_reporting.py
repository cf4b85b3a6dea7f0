"""Charts for the asset pages: small enough for the Dagster UI to show them in place."""

import base64
import xml.etree.ElementTree as ET

from pii_assets.catalogue import DEFAULT
from pii_assets.reporting import INLINE_MARKDOWN_LIMIT, f1_bars_markdown, training_curve_markdown


def _svg(markdown):
    prefix = "![training curve](data:image/svg+xml;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    return ET.fromstring(base64.b64decode(markdown[len(prefix):-1]))


def test_the_training_curve_of_a_long_run_is_an_inline_svg_with_its_end_values():
    losses = [(step, 2.0 / (1 + step / 500)) for step in range(25, 20_001, 25)]  # 800 progress points
    history = [{"step": s, "val_macro_f1": f} for s, f in ((5000, 0.61), (10000, 0.83), (15000, 0.88), (20000, 0.87))]
    markdown = training_curve_markdown(losses, history)
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    svg = _svg(markdown)
    ns = "{http://www.w3.org/2000/svg}"
    loss_line, f1_line = svg.findall(f"{ns}polyline")
    loss_points = loss_line.get("points").split()
    assert 8 <= len(loss_points) <= 60 and loss_points[0].startswith("0,") and loss_points[-1].startswith("299,")
    assert f1_line.get("points").split() == ["75,44", "150,27", "224,23", "299,24"]  # F1 on a 0-1 scale
    caption = svg.find(f"{ns}text").text
    assert caption == "loss 1.9 to 0.0488, val macro F1 0.870 (best 0.880), 20000 steps"


def test_a_run_without_validation_has_only_the_loss_line():
    svg = _svg(training_curve_markdown([(1, 0.9), (2, 0.5)], [{"step": 2, "loss": 0.7}]))
    assert "val macro F1" not in svg.find("{http://www.w3.org/2000/svg}text").text


def test_f1_bars_list_every_label_weakest_first():
    f1 = {name: (i % 10) / 10 for i, name in enumerate(DEFAULT.names)}
    markdown = f1_bars_markdown(f1)
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    rows = [line.split(" | ") for line in markdown.splitlines()[2:]]
    assert len(rows) == len(DEFAULT.names) and [float(r[1]) for r in rows] == sorted(f1.values())
    assert rows[-1][2].rstrip(" |") == "\u2588" * 9  # F1 0.9: nine of ten blocks
