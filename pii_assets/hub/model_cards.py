"""Model cards for a release's trained and quantized models.

The cards cross-link dataset -> trained model -> quantized model (Hub repo ids at the release's
tag), carry the test-split evaluation (and the comparison with vanilla Presidio), the quantization
parity, how to load and verify the model, and its intended use and limits. They are uploaded next
to the model files; they are never written into the signed model directories.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.reporting import markdown_table

BASE_MODELS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2"}
"""Hub names of the backbones that are packaged under a short name."""


@dataclass(frozen=True)
class Links:
    """Hub repo ids of the release's artifacts (None: not published)."""

    release: str
    dataset: str | None = None
    trained: str | None = None
    quantized: str | None = None

    def markdown(self) -> str:
        rows = [("dataset", self.dataset), ("trained model (PyTorch, transformers)", self.trained),
                ("quantized model (int8 ONNX)", self.quantized)]
        return "\n".join(f"- {what}: " + (f"[{repo}](https://huggingface.co/{repo}/tree/{self.release}) "
                                          f"(revision `{self.release}`)" if repo else "not published")
                         for what, repo in rows)


def _eval_table(evaluation: Mapping[str, Any], catalogue: Catalogue) -> str:
    per_label = evaluation["per_label"]
    names = [n for n in catalogue.names if n in per_label]
    return markdown_table(((n, per_label[n]["precision"], per_label[n]["recall"], per_label[n]["f1"],
                            per_label[n]["support"]) for n in names), ("label", "P", "R", "F1", "support"))


def _summary_table(evaluation: Mapping[str, Any], comparison: Mapping[str, Any] | None) -> str:
    systems = {"this model": evaluation["summary"]}
    for name, result in ((comparison or {}).get("results") or {}).items():
        if name != "trained model":
            systems[name] = result["all_labels"]
    return markdown_table(((name, s["micro_f1"], s["macro_f1"], s["char_precision"], s["char_recall"], s["char_f2"])
                           for name, s in systems.items()),
                          ("system", "entity micro F1", "entity macro F1", "char P", "char R", "char F2"))


def _uncertainty(evaluation: Mapping[str, Any], comparison: Mapping[str, Any] | None) -> str:
    """The figures' 95% bootstrap intervals and the paired difference with Presidio, where measured."""
    intervals = evaluation.get("intervals") or {}
    names = {"macro_f1": "entity macro F1", "micro_f1": "entity micro F1", "char_f2": "char F2"}
    lines = []
    if all(k in intervals for k in names):
        lines.append(f"95% intervals ({intervals.get('method', 'bootstrap over the test texts')}): "
                     + ", ".join(f"{name} {intervals[k][0]:.3f}-{intervals[k][1]:.3f}" for k, name in names.items())
                     + ". They say how much the figures depend on which texts landed in the test split.")
    difference = ((comparison or {}).get("trained_minus_presidio") or {}).get("char_f2")
    if difference:
        lines.append(f"Against vanilla Presidio on the same texts, char F2 differs by {difference['point']:+.3f} "
                     f"(95% interval {difference['low']:+.3f} to {difference['high']:+.3f}, paired bootstrap).")
    return "\n\n".join(lines)


def _base_model(backbone: str) -> str | None:
    if backbone in BASE_MODELS:
        return BASE_MODELS[backbone]
    return backbone if backbone.count("/") == 1 and not backbone.startswith((".", "/")) else None


def _card_data(links: Links, backbone: str, evaluation: Mapping[str, Any], library: str, languages: list[str]):
    from huggingface_hub import EvalResult, ModelCardData

    summary = evaluation["summary"]
    dataset = links.dataset or f"pii_assets-{links.release}"
    results = [EvalResult(task_type="token-classification", dataset_type=dataset, dataset_name=f"{dataset} (test split)",
                          dataset_split="test", metric_type=metric, metric_value=summary[key], metric_name=name)
               for metric, key, name in (("f1", "micro_f1", "entity micro F1"), ("f1", "macro_f1", "entity macro F1"),
                                         ("f2", "char_f2", "character-level masking F2"))]
    return ModelCardData(
        language=languages, license="other", library_name=library, pipeline_tag="token-classification",
        tags=["pii", "privacy", "token-classification", "coreference"], base_model=_base_model(backbone),
        datasets=[links.dataset] if links.dataset else None, model_name=f"pii_assets {links.release}",
        eval_results=results)


_LIMITS = """## Intended use and limits

- Intended use: finding and masking personal data (names, contact details, identifiers, addresses,
  credentials) in text before it is logged, shared or sent to a third-party model, in the languages
  listed. It is a detector, not an anonymiser: review what it masks where mistakes matter.
- Trained on synthetic texts (see the dataset card). Real documents differ: measure precision and
  recall on a sample of your own data before relying on it (`pii-assets evaluate --model DIR --input
  labeled.jsonl`), and pick the threshold for your use.
- Labels outside the catalogue (medical details, religion, free-text descriptions of people) are not
  detected. Quality differs by language and label: the tables below are per label on the synthetic
  test split, which shares templates' style (never the same template group) with the training data.
- Do not use it to profile or identify people."""


_VERIFY = """## Verify the signature

Every model file is signed (Ed25519 over its SHA-256). With `signature.json` and `signing_key.pub`
from this repo (compare the key with the one the publisher gave you), on a downloaded copy DIR:

```
pii-assets verify DIR --signature DIR/signature.json --public-key DIR/signing_key.pub --entry {entry} --hub
```

`--hub` ignores what the Hub and the publication add (`README.md`, `.gitattributes`, the signature and
key files); every signed file must be there and match."""


def trained_card(links: Links, backbone: str, evaluation: Mapping[str, Any], comparison: Mapping[str, Any] | None,
                 manifest: Mapping[str, Any], *, catalogue: Catalogue = DEFAULT) -> str:
    from huggingface_hub import ModelCard

    languages = sorted(evaluation.get("per_language") or {})
    data = _card_data(links, backbone, evaluation, "transformers", languages)
    training = evaluation.get("training") or {}
    repo = links.trained or "DIR"
    body = f"""
# pii_assets {links.release}: PII token classifier (trained model)

A token-classification model (strict IOB2 over {len(catalogue.names)} PII labels) with a coreference head
saved beside it (`coref_head.safetensors`), fine-tuned from `{backbone}` on release `{links.release}`.

{links.markdown()}

```python
from transformers import pipeline
pii = pipeline("token-classification", model="{repo}", revision="{links.release}", aggregation_strategy="first")
```

Or, on a downloaded copy, with the pii_assets CLI (character offsets of the input, thresholds):
`pii-assets predict --model DIR --input in.jsonl --output out.jsonl --threshold 0.25`.

## Evaluation (held-out test split of release `{links.release}`)

{_summary_table(evaluation, comparison)}

{_uncertainty(evaluation, comparison)}

Strict entity-level scores (a span counts only with exact offsets and label); character-level
scores are label-agnostic masking. Presidio is the vanilla analyzer measured on the same texts: it
has no counterpart for many of these labels, so its character-level scores are the fair comparison.

{_eval_table(evaluation, catalogue)}

## Training

{markdown_table(((k, training.get(k)) for k in ("train_samples", "train_windows", "steps", "best_val_macro_f1",
                                               "stopped_early", "seconds", "trained_on")), ("", "value"))}

Config: `{training.get("config")}`. Data manifest sha256 `{manifest['manifest_sha256']}`,
git commit `{manifest.get('git_commit', 'unknown')}`.

{_VERIFY.format(entry="trained_model")}

{_LIMITS}
"""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def quantized_card(links: Links, backbone: str, evaluation: Mapping[str, Any], parity: Mapping[str, Any],
                   manifest: Mapping[str, Any]) -> str:
    from huggingface_hub import ModelCard

    languages = sorted(evaluation.get("per_language") or {})
    data = _card_data(links, backbone, evaluation, "onnx", languages)
    summary, sizes = parity["summary"], parity["sizes"]
    mib = 2 ** 20
    repo = links.quantized or "DIR"
    rows = [("size (MiB)", round(sizes["trained_safetensors_bytes"] / mib, 1), round(sizes["quantized_bytes"] / mib, 1)),
            ("latency, batch 1, 2 CPU threads (ms/window)", summary["trained_ms_batch1"], summary["quantized_ms_batch1"]),
            ("test entity micro F1", summary["reference_micro_f1"], summary["candidate_micro_f1"])]
    body = f"""
# pii_assets {links.release}: PII token classifier (int8 ONNX)

The dynamic int8 quantization of the release's trained model ({links.trained or 'see the release'}),
in the Kiji PII proxy's custom-model contract: `model_quantized.onnx`, `tokenizer.json`,
`label_mappings.json`, `config.json`. Outputs `logits` (PII IOB2) and `coref_logits`.

{links.markdown()}

```python
from optimum.onnxruntime import ORTModelForTokenClassification
model = ORTModelForTokenClassification.from_pretrained("{repo}", revision="{links.release}",
                                                       file_name="model_quantized.onnx")
```

## Parity with the trained model (test split, blocking gate)

{markdown_table(rows, ("", "trained (fp32)", "quantized (int8)"))}

Token argmax agreement {summary['argmax_agreement']:.4%}; F1 change {-summary['micro_f1_drop_points']:+.2f} points
(the gate fails a release that loses more than 0.5 points or agrees on fewer than 99.5% of tokens).
Quantization: `{parity['choice']}`.

{_VERIFY.format(entry="quantized_model")}

Data manifest sha256 `{manifest['manifest_sha256']}`.

{_LIMITS}
"""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))
