"""Samples -> training tokens: fast-tokenizer offsets aligned to strict IOB2 labels.

Alignment rules:
- each token takes the entity it overlaps most (character overlap; none -> ``O``);
- the first token of an entity in a window is ``B-``, the following ones ``I-`` (B-I-I for
  multi-word entities); adjacent entities stay separate (``B-FIRSTNAME B-SURNAME``);
- punctuation and spaces outside a value are ``O`` (they do not overlap it);
- special tokens get ``-100`` (ignored by the loss) in both label columns;
- coreference: each token gets ``cluster_id + 1`` of the mention it overlaps, 0 for none;
- texts longer than the window are split into overlapping windows (``stride`` tokens of
  overlap), never truncated.

The alignment is vectorised with numpy per window; the tokenizer is the backbone's Rust
tokenizer, run on a batch of texts at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.storage import atomic_writer

IGNORE = -100
TOKENS_VERSION = "1"


@dataclass(frozen=True)
class WindowConfig:
    max_length: int = 256
    stride: int = 32

    def __post_init__(self) -> None:
        if self.max_length < 8 or not 0 <= self.stride < self.max_length // 2:
            raise ValueError(f"invalid window: max_length={self.max_length}, stride={self.stride} "
                             "(need max_length >= 8 and 0 <= stride < max_length / 2)")


def window_tokenizer(source: Any, config: WindowConfig):
    """A private copy of a Rust tokenizer, windowed and unpadded.

    ``source``: a transformers fast tokenizer, or the path of a ``tokenizer.json``.
    """
    from tokenizers import Tokenizer

    if isinstance(source, (str, Path)):
        tk = Tokenizer.from_file(str(source))
    else:
        tk = Tokenizer.from_str(source.backend_tokenizer.to_str())
    tk.no_padding()
    tk.enable_truncation(max_length=config.max_length, stride=config.stride)
    return tk


def sample_group(sample: dict) -> str:
    """Split group: samples made of the same set of template lines are near-duplicates.

    Providers may set ``meta.group`` (e.g. an import source); the offline generator's samples
    are grouped by language and the set of non-filler template lines they were composed from.
    """
    meta = sample.get("meta") or {}
    if meta.get("group"):
        return str(meta["group"])
    lines = sorted({t for t in meta.get("templates", ()) if "/filler/" not in t and "/neg/" not in t})
    return f"{sample['language']}:" + ",".join(lines) if lines else f"id:{sample['id']}"


class Aligner:
    """Aligns tokenizer windows of samples to IOB2 and coreference label ids."""

    def __init__(self, hf_tokenizer: Any, catalogue: Catalogue = DEFAULT,
                 config: WindowConfig = WindowConfig()):
        self.catalogue = catalogue
        self.config = config
        self.tokenizer = window_tokenizer(hf_tokenizer, config)
        label2id = catalogue.label2id()
        self.kind_of = {name: k for k, name in enumerate(catalogue.names)}
        self.b_ids = np.array([label2id[f"B-{n}"] for n in catalogue.names], dtype=np.int16)
        self.i_ids = np.array([label2id[f"I-{n}"] for n in catalogue.names], dtype=np.int16)

    @staticmethod
    def _assign(starts: np.ndarray, ends: np.ndarray, tok_s: np.ndarray, tok_e: np.ndarray) -> np.ndarray:
        """Index of the span each token overlaps most, -1 for none (spans sorted, disjoint)."""
        if not len(starts):
            return np.full(len(tok_s), -1, dtype=np.int64)
        j = np.searchsorted(starts, tok_e, side="left") - 1
        best = np.full(len(tok_s), -1, dtype=np.int64)
        best_ov = np.zeros(len(tok_s), dtype=np.int64)
        for cand in (j, j - 1):  # a token can straddle at most two disjoint spans that matter
            c = np.clip(cand, 0, None)
            ov = np.minimum(tok_e, ends[c]) - np.maximum(tok_s, starts[c])
            ov[cand < 0] = 0
            better = ov > best_ov
            best[better] = cand[better]
            best_ov[better] = ov[better]
        return best

    def encode(self, samples: list[dict]) -> pa.Table:
        """The token table for ``samples``: one row per window, vectorised over the batch.

        Every sample's characters are placed on one global axis (sample i starts at base[i]),
        so spans, mentions and tokens of the whole batch are matched by one searchsorted.
        """
        encodings = self.tokenizer.encode_batch([s["text"] for s in samples])
        windows, win_sample, win_index = [], [], []
        for i, encoding in enumerate(encodings):
            for w, window in enumerate([encoding, *encoding.overflowing]):
                windows.append(window)
                win_sample.append(i)
                win_index.append(w)
        lengths = np.fromiter((len(w.ids) for w in windows), np.int64, len(windows))
        total = int(lengths.sum())
        ids = np.fromiter(chain.from_iterable(w.ids for w in windows), np.int32, total)
        offsets = np.fromiter(chain.from_iterable(chain.from_iterable(w.offsets for w in windows)),
                              np.int64, 2 * total).reshape(-1, 2)
        special = np.fromiter(chain.from_iterable(w.special_tokens_mask for w in windows), bool, total)
        text_lengths = np.fromiter((len(s["text"]) + 1 for s in samples), np.int64, len(samples))
        base = np.concatenate(([0], np.cumsum(text_lengths)[:-1]))
        tok_base = np.repeat(base[np.array(win_sample, dtype=np.int64)], lengths)
        tok_s, tok_e = offsets[:, 0] + tok_base, offsets[:, 1] + tok_base

        spans = np.array([(s["start"] + b, s["end"] + b, self.kind_of[s["label"]])
                          for sample, b in zip(samples, base.tolist()) for s in sample["privacy_mask"]],
                         dtype=np.int64).reshape(-1, 3)
        ent = self._assign(spans[:, 0], spans[:, 1], tok_s, tok_e)
        ent[special] = -1
        window_start = np.zeros(total, dtype=bool)
        window_start[np.concatenate(([0], np.cumsum(lengths)[:-1]))] = True
        prev = np.concatenate(([-1], ent[:-1]))
        prev[window_start] = -1
        kind = spans[np.clip(ent, 0, None), 2] if len(spans) else np.zeros(total, np.int64)
        labels = np.where(ent < 0, 0, np.where(ent == prev, self.i_ids[kind], self.b_ids[kind]))
        labels = labels.astype(np.int16)
        labels[special] = IGNORE

        mentions = np.array(sorted((m["start"] + b, m["end"] + b, c["cluster_id"] + 1)
                                   for sample, b in zip(samples, base.tolist())
                                   for c in sample.get("coreferences", ()) for m in c["mentions"]),
                            dtype=np.int64).reshape(-1, 3)
        mention = self._assign(mentions[:, 0], mentions[:, 1], tok_s, tok_e)
        coref = (mentions[np.clip(mention, 0, None), 2] if len(mentions) else np.zeros(total, np.int64))
        coref = np.where(mention < 0, 0, coref).astype(np.int16)
        coref[special] = IGNORE

        list_offsets = pa.array(np.concatenate(([0], np.cumsum(lengths))).astype(np.int32), pa.int32())

        def lists(flat: np.ndarray, dtype: pa.DataType) -> pa.Array:
            return pa.ListArray.from_arrays(list_offsets, pa.array(flat, dtype))

        rows = [samples[i] for i in win_sample]
        return pa.table({
            "sample_id": pa.array([r["id"] for r in rows], pa.string()),
            "window": pa.array(win_index, pa.int16()),
            "language": pa.array([r["language"] for r in rows], pa.string()),
            "group": pa.array([sample_group(r) for r in rows], pa.string()),
            "input_ids": lists(ids, pa.int32()),
            "labels": lists(labels, pa.int16()),
            "coref": lists(coref, pa.int16()),
            "token_start": lists(offsets[:, 0].astype(np.int32), pa.int32()),
            "token_end": lists(offsets[:, 1].astype(np.int32), pa.int32()),
        }, schema=SCHEMA)


SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("window", pa.int16()), ("language", pa.string()), ("group", pa.string()),
    ("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int16())), ("coref", pa.list_(pa.int16())),
    ("token_start", pa.list_(pa.int32())), ("token_end", pa.list_(pa.int32())),
])


@dataclass
class TokenStats:
    samples: int = 0
    windows: int = 0
    tokens: int = 0
    non_o: int = 0
    per_label: dict[str, int] | None = None

    @property
    def average_length(self) -> float:
        return self.tokens / self.windows if self.windows else 0.0

    @property
    def non_o_ratio(self) -> float:
        return self.non_o / self.tokens if self.tokens else 0.0


def _chunks(samples: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for sample in samples:
        chunk.append(sample)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_tokens(samples: Iterable[dict], path: Path, aligner: Aligner, chunk_size: int = 2000) -> TokenStats:
    """Stream samples into a Parquet token table (one row group per chunk), atomically."""
    stats = TokenStats()
    label_counts = np.zeros(len(aligner.catalogue.iob2_labels()), dtype=np.int64)
    with atomic_writer(path, "wb") as fh, pq.ParquetWriter(fh, SCHEMA, compression="zstd") as writer:
        for chunk in _chunks(samples, chunk_size):
            table = aligner.encode(chunk)
            writer.write_table(table)
            stats.samples += len(chunk)
            stats.windows += table.num_rows
            labels = table.column("labels").combine_chunks().values.to_numpy()
            real = labels[labels != IGNORE]
            stats.tokens += len(real)
            stats.non_o += int((real > 0).sum())
            label_counts += np.bincount(real, minlength=len(label_counts))
    names = aligner.catalogue.names
    stats.per_label = {n: int(label_counts[1 + 2 * k] + label_counts[2 + 2 * k]) for k, n in enumerate(names)}
    return stats
