"""Batch keys and batch specs.

A batch is declared once with its spec (provider, size, languages, label weights, seed). The spec
is stored as ``batches/<key>/spec.json`` and never changes: declaring the same key again with the
same spec is a no-op, with a different spec it is an error (declare a new key instead). Everything
the batch assets produce is a function of the spec, so re-materializing a batch reproduces it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.storage import LocalStorage, write_json

PROVIDERS = ("offline", "openai", "batch", "hf")
"""``offline``: the embedded generator (default, deterministic); ``openai``: any OpenAI-compatible
chat-completions endpoint; ``batch``: the OpenAI Batch API (both through the ``llm`` resource:
base URL, model, key); ``hf``: an existing dataset (this project's format, Kiji's or ai4privacy's)
from a local path or a Hub repo id (``source``; see docs/import.md)."""
MAX_BATCH_SIZE = 1_000_000
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


class BatchSpecError(ValueError):
    pass


def validate_batch_key(key: Any) -> str:
    """A batch key is a directory name and a partition key: 1-64 chars of ``[A-Za-z0-9_.-]``."""
    if not isinstance(key, str) or not key:
        raise BatchSpecError("batch key must be a non-empty string")
    if len(key) > 64:
        raise BatchSpecError(f"batch key {key[:20]!r}... is longer than 64 characters")
    if ".." in key or not _KEY.fullmatch(key):
        raise BatchSpecError(
            f"batch key {key!r} is invalid: use letters, digits, '_', '-', '.', start with a "
            "letter or digit, no '..' and no path separators")
    return key


@dataclass(frozen=True)
class BatchSpec:
    key: str
    provider: str = "offline"
    size: int = 1000
    languages: tuple[str, ...] = ("en", "de", "fr", "es", "nl", "it")
    seed: int = 0
    label_weights: dict[str, float] = field(default_factory=dict)
    """Overrides of the catalogue's sampling weights (0 disables a label)."""
    no_pii_ratio: float = 0.10
    long_document_ratio: float = 0.10
    short_ratio: float = 0.25
    """Offline provider: share of one- or two-line texts (a chat message, a log line, a form line),
    the length of most real inputs; the OpenAI provider asks for one short sentence as often."""
    invalid_ratio: float = 0.0
    """Offline provider: share of samples with one value made invalid (a wrong check digit, an
    address without ``@``), which the review rejects with the reason: to see and test the reject
    path (the demo's second batch uses 0.01). Not counted in the ratios above."""
    source: str | None = None
    """``hf`` provider: a local directory/file or a Hub dataset repo id; ``size`` caps the samples."""
    source_revision: str | None = None
    """``hf`` provider, Hub source: the revision (tag, branch or commit) to import, for reproducibility."""
    label_mapping: dict[str, str | None] = field(default_factory=dict)
    """``hf`` provider: overrides of the source-label mapping (target label, "ignore" or null)."""

    def validate(self, catalogue: Catalogue = DEFAULT, languages: tuple[str, ...] | None = None,
                 ) -> BatchSpec:
        from pii_assets.generator.locales import LOCALES

        validate_batch_key(self.key)
        where = f"batch {self.key!r}"
        if self.provider not in PROVIDERS:
            raise BatchSpecError(f"{where}: unknown provider {self.provider!r} "
                                 f"(known: {', '.join(PROVIDERS)})")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_BATCH_SIZE:
            raise BatchSpecError(f"{where}: size must be an integer 1..{MAX_BATCH_SIZE}")
        if not isinstance(self.seed, int):
            raise BatchSpecError(f"{where}: seed must be an integer")
        known = languages or tuple(LOCALES)
        if not self.languages:
            raise BatchSpecError(f"{where}: at least one language is required")
        for lang in self.languages:
            if lang not in known:
                raise BatchSpecError(f"{where}: unknown language {lang!r} "
                                     f"(known: {', '.join(known)})")
        for label, weight in self.label_weights.items():
            if label not in catalogue:
                raise BatchSpecError(f"{where}: unknown label {label!r} in label_weights")
            if not isinstance(weight, (int, float)) or weight < 0:
                raise BatchSpecError(f"{where}: weight of {label} must be a number >= 0")
        if (self.provider == "hf") != bool(self.source):
            raise BatchSpecError(f"{where}: provider hf needs a source (--source PATH_OR_REPO_ID), and only it takes one")
        if self.label_mapping:
            from pii_assets.hub.imports import check_mapping

            try:
                check_mapping(self.label_mapping, catalogue)
            except ValueError as exc:
                raise BatchSpecError(f"{where}: label_mapping: {exc}") from None
        ratios = ("no_pii_ratio", "long_document_ratio", "short_ratio")
        for name in (*ratios, "invalid_ratio"):
            ratio = getattr(self, name)
            if not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
                raise BatchSpecError(f"{where}: {name} must be between 0 and 1")
        if sum(getattr(self, name) for name in ratios) > 1:
            raise BatchSpecError(f"{where}: {', '.join(ratios)} add up to more than 1")
        return self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchSpec:
        if not isinstance(data, dict):
            raise BatchSpecError("a batch spec must be a JSON object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise BatchSpecError(f"batch {data.get('key')!r}: unknown spec fields "
                                 f"{', '.join(sorted(unknown))}")
        data = dict(data)
        if "languages" in data:
            data["languages"] = tuple(data["languages"])
        return cls(**data)


def declare_batch(storage: LocalStorage, spec: BatchSpec) -> bool:
    """Store the spec of a new batch (and publish it where the store mirrors to, so every machine
    sees the same declaration). Returns True if it was new, False if already declared."""
    spec.validate()
    path = storage.batch_file(spec.key, "spec.json")
    storage.fetch(path)
    if path.is_file():
        existing = load_spec(storage, spec.key)
        if existing != spec:
            raise BatchSpecError(
                f"batch {spec.key!r} is already declared with a different spec ({path}); "
                "declare a new batch key instead")
        return False
    write_json(path, spec.to_json())
    storage.publish(path)
    return True


def load_spec(storage: LocalStorage, key: str) -> BatchSpec:
    validate_batch_key(key)
    path = storage.batch_file(key, "spec.json")
    storage.fetch(path)
    if not path.is_file():
        raise BatchSpecError(f"batch {key!r} is not declared (no {path})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BatchSpecError(f"batch {key!r}: {path} is not valid JSON ({exc.msg})") from None
    return BatchSpec.from_json(data).validate()
