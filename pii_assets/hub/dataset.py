"""A release's samples as a Hugging Face ``DatasetDict``, and its dataset card.

Layout of ``releases/<release>/hf_dataset/`` (what is pushed to a Hub dataset repo)::

    README.md                          dataset card (YAML header + tables)
    data/<split>-00000-of-00001.parquet one Parquet file per split (train, validation, test)
    arrow/                             the same DatasetDict via ``save_to_disk`` (not pushed)

The splits are the release's own (``splits.parquet``), so the test split never holds a sample the
release's model trained or early-stopped on. ``load_dataset("parquet", data_files=...)`` reads
the Parquet files, ``load_from_disk(".../arrow")`` the Arrow copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.reporting import markdown_table

SPLITS = ("train", "validation", "test")
ARROW_DIR = "arrow"


def features():
    from datasets import Features, Value

    span = {"value": Value("string"), "label": Value("string"), "start": Value("int32"), "end": Value("int32")}
    mention = {"text": Value("string"), "start": Value("int32"), "end": Value("int32"), "type": Value("string"),
               "privacy_mask_labels": [Value("string")]}
    cluster = {"cluster_id": Value("int32"), "entity_type": Value("string"), "mentions": [mention]}
    return Features({"id": Value("string"), "text": Value("string"), "privacy_mask": [span],
                     "coreferences": [cluster], "language": Value("string"), "country": Value("string"),
                     "source": Value("string")})


def source_of(sample: Mapping[str, Any]) -> str:
    """Where a sample came from: ``provider[/model]/batch`` (an import keeps its own source)."""
    meta = sample.get("meta") or {}
    if isinstance(meta.get("source"), str):
        return meta["source"]
    return "/".join(str(p) for p in (meta.get("provider"), meta.get("model"), meta.get("batch")) if p)


def row(sample: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": sample["id"], "text": sample["text"], "language": sample["language"], "country": sample["country"],
        "privacy_mask": [{k: s[k] for k in ("value", "label", "start", "end")} for s in sample["privacy_mask"]],
        "coreferences": [{"cluster_id": c["cluster_id"], "entity_type": c.get("entity_type"),
                          "mentions": [{"text": m["text"], "start": m["start"], "end": m["end"],
                                        "type": m.get("type"), "privacy_mask_labels": list(m.get("privacy_mask_labels") or [])}
                                       for m in c["mentions"]]}
                         for c in sample.get("coreferences") or []],
        "source": source_of(sample),
    }


def build(splits: Mapping[str, Iterable[Mapping[str, Any]]]):
    """``{split: samples}`` -> ``DatasetDict`` (rows ordered by id, so the bytes are reproducible)."""
    import pyarrow as pa
    from datasets import Dataset, DatasetDict, DatasetInfo
    from datasets.table import InMemoryTable

    feats = features()
    out = {}
    for split, samples in splits.items():
        rows = sorted((row(s) for s in samples), key=lambda r: r["id"])
        # pyarrow directly: Dataset.from_list is ~4x slower on these nested columns
        table = pa.Table.from_pylist(rows, schema=feats.arrow_schema)
        out[split] = Dataset(InMemoryTable(table), info=DatasetInfo(features=feats))
    return DatasetDict(out)


def parquet_name(split: str) -> str:
    return f"data/{split}-00000-of-00001.parquet"


def write(dataset_dict, directory: Path, card: str) -> dict[str, Path]:
    """Write Parquet per split, the Arrow copy and the card into ``directory`` (an empty dir)."""
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # per-split bars would flood the logs and the demo's output
    paths = {}
    for split, ds in dataset_dict.items():
        path = directory / parquet_name(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(path))
        paths[split] = path
    dataset_dict.save_to_disk(str(directory / ARROW_DIR))
    (directory / "README.md").write_text(card, encoding="utf-8")
    return paths


def statistics(splits: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, Any]:
    """Counts the card and the metadata show: per split, label, language and review kind."""
    labels: Counter = Counter()
    label_samples: Counter = Counter()
    languages: dict[str, Counter] = {}
    reviews: Counter = Counter()
    providers: Counter = Counter()
    for split, samples in splits.items():
        for s in samples:
            languages.setdefault(s["language"], Counter())[split] += 1
            labels.update(x["label"] for x in s["privacy_mask"])
            label_samples.update({x["label"] for x in s["privacy_mask"]})
            meta = s.get("meta") or {}
            reviews[(meta.get("review") or {}).get("by", "none")] += 1
            providers[str(meta.get("provider", "unknown"))] += 1
    return {
        "splits": {split: len(samples) for split, samples in splits.items()},
        "spans_per_label": dict(labels), "samples_per_label": dict(label_samples),
        "samples_per_language": {lang: dict(c) for lang, c in sorted(languages.items())},
        "review": dict(reviews), "providers": dict(providers),
        "samples_without_pii": sum(1 for samples in splits.values() for s in samples if not s["privacy_mask"]),
    }


def size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < bound:
            return name
    return "n>1M"


def card(release: str, manifest: Mapping[str, Any], stats: Mapping[str, Any], *,
         catalogue: Catalogue = DEFAULT, model_repo: str | None = None, quantized_repo: str | None = None) -> str:
    """The dataset card: YAML header (``DatasetCardData``) and the tables a user checks first."""
    from huggingface_hub import DatasetCard, DatasetCardData

    total = sum(stats["splits"].values())
    data = DatasetCardData(
        pretty_name=f"pii_assets release {release}",
        language=sorted(stats["samples_per_language"]),
        license="other",
        task_categories=["token-classification"],
        task_ids=["named-entity-recognition"],
        size_categories=[size_category(total)],
        tags=["pii", "privacy", "synthetic", "coreference"],
        configs=[{"config_name": "default",
                  "data_files": [{"split": s, "path": parquet_name(s)} for s in stats["splits"]]}],
    )
    langs = stats["samples_per_language"]
    split_names = list(stats["splits"])
    links = []
    if model_repo:
        links.append(f"- Trained model: [{model_repo}](https://huggingface.co/{model_repo}) (revision `{release}`)")
    if quantized_repo:
        links.append(f"- Quantized ONNX model: [{quantized_repo}](https://huggingface.co/{quantized_repo}) "
                     f"(revision `{release}`)")
    batches = markdown_table(((b["key"], b["samples"], b["samples_sha256"][:16]) for b in manifest["batches"]),
                             ("batch", "samples", "annotated_samples sha256"))
    body = f"""
# pii_assets release `{release}`: PII spans with coreference

{total} texts in {len(langs)} languages with character-offset PII spans in {len(stats['spans_per_label'])}
labels and coreference clusters, built by the pii_assets pipeline from the batches below.
The splits are the release's own: models of release `{release}` trained on `train`, early-stopped on
`validation` and were evaluated on `test`; a sample group (template/source) never crosses splits.

{chr(10).join(links)}

## Columns

- `text`; `privacy_mask`: list of `{{value, label, start, end}}`, `text[start:end] == value`;
- `coreferences`: list of `{{cluster_id, entity_type, mentions: [{{text, start, end, type, privacy_mask_labels}}]}}`;
- `language` (ISO 639-1), `country` (ISO 3166-1 alpha-2), `id` (content hash), `source` (provider/model/batch).

```python
from datasets import load_dataset
ds = load_dataset("parquet", data_files={{{", ".join(f'"{s}": "{parquet_name(s)}"' for s in split_names)}}})
```

## Splits

{markdown_table(((s, n) for s, n in stats['splits'].items()), ('split', 'samples'))}

## Labels

{markdown_table(((l.name, l.description, stats['spans_per_label'].get(l.name, 0), stats['samples_per_label'].get(l.name, 0))
                 for l in catalogue.labels), ("label", "description", "spans", "samples"))}

Texts without any PII: {stats['samples_without_pii']}.

## Languages

{markdown_table(((lang, *(c.get(s, 0) for s in split_names)) for lang, c in langs.items()), ('language', *split_names))}

## How it was made

- Generated by: {", ".join(f"{p} ({n})" for p, n in sorted(stats['providers'].items()))}. `offline` is the
  project's embedded template generator (Faker values with per-country check digits, long documents,
  texts without PII, look-alike hard negatives); `openai`/`batch` are LLM providers whose answers are
  grounded to offsets by the rule-based reviewer.
- Reviewed by: {", ".join(f"{r} ({n})" for r, n in sorted(stats['review'].items()))}. `rules`: the
  catalogue's validators (checksums, formats) and grounding of every occurrence; `human`: a Label Studio
  annotation; `llm`: an LLM review pass before the rules.
- Synthetic data: values are fake, but real-looking (valid checksums). Do not use it to evaluate on real
  documents without your own held-out set.

## Release manifest

Manifest sha256 `{manifest['manifest_sha256']}`, git commit `{manifest.get('git_commit', 'unknown')}`,
split seed `{manifest['config'].get('split_seed')}`, backbone `{manifest['config'].get('backbone')}`.

{batches}
"""
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def load_parquet(directory: Path):
    """What a consumer does: ``load_dataset("parquet")`` over the written files."""
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    files = {p.name.split("-")[0]: str(p) for p in sorted((directory / "data").glob("*.parquet"))}
    return load_dataset("parquet", data_files=files)
