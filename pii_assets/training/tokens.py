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

The alignment is vectorised with numpy over a chunk of samples; the tokenizer is the backbone's
Rust tokenizer, run on a chunk of texts at once while the previous chunk is aligned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
TOKENS_VERSION = "2"
"""Part of training_tokens' code version: 2 takes the spaces out of SentencePiece tokens' offsets."""


@dataclass(frozen=True)
class WindowConfig:
    max_length: int = 256
    stride: int = 32

    def __post_init__(self) -> None:
        if self.max_length < 8 or not 0 <= self.stride < self.max_length // 2:
            raise ValueError(f"invalid window: max_length={self.max_length}, stride={self.stride} "
                             "(need max_length >= 8 and 0 <= stride < max_length / 2)")


@dataclass(frozen=True)
class TokenWindows:
    """The windows of a batch of texts as flat token arrays; window w is tokens bounds[w]:bounds[w + 1]."""
    text: np.ndarray
    """Per window: the index of its text; a text's windows are consecutive."""
    number: np.ndarray
    """Per window: 0, 1, ... within its text."""
    lengths: np.ndarray
    """Per window: its number of tokens, special tokens included."""
    ids: np.ndarray
    starts: np.ndarray
    """Per token: character offsets in its text (0, 0 for special tokens)."""
    ends: np.ndarray
    special: np.ndarray

    @property
    def bounds(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.lengths)))

    def of_text(self, n_texts: int) -> np.ndarray:
        """Window ranges per text: text i has windows first[i]:first[i + 1]."""
        return np.searchsorted(self.text, np.arange(n_texts + 1))


class WindowTokenizer:
    """The backbone's Rust tokenizer, with texts split into overlapping windows by numpy.

    Rust encodes each text whole; the windows are cut from the flat arrays as transformers'
    overflowing tokens are (same windows, token for token): at most ``max_length`` tokens with
    the special tokens around each window, the next window starting ``stride`` tokens before the
    previous one ends. That is cheaper than letting Rust copy every overflowing window into its own
    Encoding object.

    ``source``: a transformers fast tokenizer, or the path of a ``tokenizer.json``.
    """

    def __init__(self, source: Any, config: WindowConfig):
        from tokenizers import Tokenizer

        if isinstance(source, (str, Path)):
            tk = Tokenizer.from_file(str(source))
        else:
            tk = Tokenizer.from_str(source.backend_tokenizer.to_str())
        tk.no_padding()
        tk.no_truncation()
        self.tokenizer, self.config = tk, config
        mask = tk.encode("a").special_tokens_mask  # the post-processor's special tokens around a text
        text_tokens = [i for i, special in enumerate(mask) if not special]
        if not text_tokens:
            raise ValueError("the tokenizer turns the text 'a' into no token: cannot tell its special tokens apart")
        self.prefix, self.suffix = text_tokens[0], len(mask) - 1 - text_tokens[-1]
        probe = "ab cd  ef"
        encoding = tk.encode(probe)
        self.spaces_in_offsets = any(  # SentencePiece's "▁cd": (2, 5), the space included
            probe[s:e].strip() not in ("", probe[s:e])
            for (s, e), special in zip(encoding.offsets, encoding.special_tokens_mask) if not special)
        self.content = config.max_length - self.prefix - self.suffix
        if self.content <= config.stride:
            raise ValueError(f"invalid window: {config.max_length} tokens minus {self.prefix + self.suffix} "
                             f"special tokens leave no room past a stride of {config.stride}")

    def encode_batch(self, texts: list[str]) -> list:
        """The Rust encodings of whole texts (runs on all cores, without the GIL)."""
        return self.tokenizer.encode_batch(texts)

    def __call__(self, texts: list[str]) -> TokenWindows:
        return self.windows(self.encode_batch(texts), texts)

    def windows(self, encodings: list, texts: list[str]) -> TokenWindows:
        """The windows of ``encode_batch``'s encodings of ``texts``, in text order."""
        lens = np.fromiter(map(len, encodings), np.int64, len(encodings))
        total = int(lens.sum())
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), np.int32, total)
        offsets = np.fromiter(chain.from_iterable(chain.from_iterable(e.offsets for e in encodings)),
                              np.int64, 2 * total).reshape(-1, 2)
        if self.spaces_in_offsets:
            offsets = _without_edge_spaces(offsets, texts, lens)
        special = np.fromiter(chain.from_iterable(e.special_tokens_mask for e in encodings), bool, total)
        first = np.cumsum(lens) - lens  # each text's first token in the flat arrays
        content = lens - self.prefix - self.suffix
        step = self.content - self.config.stride
        count = 1 + np.maximum(0, -((self.content - content) // step))  # ceil((content - room) / step)
        text = np.repeat(np.arange(len(encodings)), count)
        number = np.arange(len(text)) - np.repeat(np.cumsum(count) - count, count)
        content_start = number * step
        lengths = np.minimum(self.content, content[text] - content_start) + self.prefix + self.suffix
        # for every window token, its index in the flat arrays of whole texts
        pos = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        from_end = np.repeat(lengths, lengths) - pos
        src = np.repeat(first[text] + content_start, lengths) + pos
        src = np.where(pos < self.prefix, src - np.repeat(content_start, lengths), src)
        src = np.where(from_end <= self.suffix, np.repeat(first[text] + lens[text], lengths) - from_end, src)
        return TokenWindows(text=text, number=number, lengths=lengths, ids=ids[src],
                            starts=offsets[src, 0], ends=offsets[src, 1], special=special[src])


_SPACES = np.array([c for c in range(0x3001) if chr(c).isspace()], dtype=np.uint32)


def _without_edge_spaces(offsets: np.ndarray, texts: list[str], lens: np.ndarray) -> np.ndarray:
    """Token offsets without the whitespace at their edges; a token of whitespace only keeps its own.

    SentencePiece tokenizers (DeBERTa-v3, XLM-R: ``▁cd``) put the space before a word into the
    word's first token. Left in, it makes the token overlap the value before it as much as the
    value it starts (``▁5``: one character each), makes every token touch the next one (the
    decoder's "no whitespace in between" would join any two values of one label) and makes
    decoded values start with a space.
    """
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    solid = ~np.isin(codes, _SPACES)
    position = np.arange(len(codes))
    next_solid = np.minimum.accumulate(np.where(solid, position, len(codes))[::-1])[::-1]
    last_solid = np.maximum.accumulate(np.where(solid, position, -1))
    before = np.concatenate(([0], np.cumsum(solid)))
    base = np.repeat(np.concatenate(([0], np.cumsum([len(t) for t in texts])[:-1])), lens)
    start, end = offsets[:, 0] + base, offsets[:, 1] + base
    trim = before[end] - before[start] > 0  # has a character that is not whitespace (not special)
    out = offsets.copy()
    out[trim, 0] = next_solid[start[trim]] - base[trim]
    out[trim, 1] = last_solid[end[trim] - 1] + 1 - base[trim]
    return out


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
        self.tokenizer = WindowTokenizer(hf_tokenizer, config)
        label2id = catalogue.label2id()
        self.kind_of = {name: k for k, name in enumerate(catalogue.names)}
        self.b_ids = np.array([label2id[f"B-{n}"] for n in catalogue.names], dtype=np.int16)
        self.i_ids = np.array([label2id[f"I-{n}"] for n in catalogue.names], dtype=np.int16)

    @staticmethod
    def _assign(starts: np.ndarray, ends: np.ndarray, tok_s: np.ndarray, tok_e: np.ndarray) -> np.ndarray:
        """Index of the span each token overlaps most, -1 for none (spans sorted, disjoint)."""
        if not len(starts):
            return np.full(len(tok_s), -1, dtype=np.int64)
        j = np.searchsorted(starts, tok_e, side="left") - 1  # the last span starting before the token ends
        c = np.clip(j, 0, None)
        span_start = starts[c]
        overlap = np.minimum(tok_e, ends[c]) - np.maximum(tok_s, span_start)
        best = np.where((overlap > 0) & (j >= 0), j, -1)
        # A token can also overlap span j - 1, only if it starts before span j does (rare: a value
        # boundary inside a token); span j - 1 takes it if it overlaps strictly more.
        (k,) = np.nonzero((j > 0) & (tok_s < span_start))
        if len(k):
            prev = j[k] - 1
            prev_overlap = np.minimum(tok_e[k], ends[prev]) - np.maximum(tok_s[k], starts[prev])
            wins = prev_overlap > np.maximum(overlap[k], 0)
            best[k[wins]] = prev[wins]
        return best

    def encode(self, samples: list[dict]) -> pa.Table:
        """The token table for ``samples``: one row per window."""
        return self._table(samples, self.tokenizer.encode_batch([s["text"] for s in samples]))

    def encode_chunks(self, chunks: Iterable[list[dict]]) -> Iterator[tuple[list[dict], pa.Table]]:
        """``(chunk, encode(chunk))`` for each chunk, tokenizing the next chunk while this one is
        aligned: the Rust tokenizer releases the GIL, so its threads and the numpy alignment share
        the cores instead of taking turns."""
        with ThreadPoolExecutor(1, thread_name_prefix="tokenize") as pool:
            pending = None
            for chunk in chunks:
                future = pool.submit(self.tokenizer.encode_batch, [s["text"] for s in chunk])
                if pending is not None:
                    yield pending[0], self._table(pending[0], pending[1].result())
                pending = chunk, future
            if pending is not None:
                yield pending[0], self._table(pending[0], pending[1].result())

    def _table(self, samples: list[dict], encodings: list) -> pa.Table:
        """One row per window, vectorised over the batch.

        Every sample's characters are placed on one global axis (sample i starts at base[i]),
        so spans, mentions and tokens of the whole batch are matched by one searchsorted.
        """
        tw = self.tokenizer.windows(encodings, [s["text"] for s in samples])
        lengths, total, special = tw.lengths, len(tw.ids), tw.special
        text_lengths = np.fromiter((len(s["text"]) + 1 for s in samples), np.int64, len(samples))
        base = np.concatenate(([0], np.cumsum(text_lengths)[:-1]))
        tok_base = np.repeat(base[tw.text], lengths)
        tok_s, tok_e = tw.starts + tok_base, tw.ends + tok_base

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

        sample_of_window = pa.array(tw.text)

        def per_sample(values: list[str]) -> pa.Array:
            return pa.array(values, pa.string()).take(sample_of_window)

        return pa.table({
            "sample_id": per_sample([s["id"] for s in samples]),
            "window": pa.array(tw.number.astype(np.int16)),
            "language": per_sample([s["language"] for s in samples]),
            "group": per_sample([sample_group(s) for s in samples]),
            "input_ids": lists(tw.ids, pa.int32()),
            "labels": lists(labels, pa.int16()),
            "coref": lists(coref, pa.int16()),
            "token_start": lists(tw.starts.astype(np.int32), pa.int32()),
            "token_end": lists(tw.ends.astype(np.int32), pa.int32()),
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


def write_tokens(samples: Iterable[dict], path: Path, aligner: Aligner, chunk_size: int = 1000) -> TokenStats:
    """Stream samples into a Parquet token table (one row group per chunk), atomically."""
    stats = TokenStats()
    label_counts = np.zeros(len(aligner.catalogue.iob2_labels()), dtype=np.int64)
    with atomic_writer(path, "wb") as fh, pq.ParquetWriter(fh, SCHEMA, compression="zstd") as writer:
        for chunk, table in aligner.encode_chunks(_chunks(samples, chunk_size)):
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
