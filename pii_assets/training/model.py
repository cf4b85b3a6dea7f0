"""The multi-task PII model: a transformers token classifier (the PII head) + a coreference head.

Saved so that ``AutoModelForTokenClassification.from_pretrained(dir)`` and
``transformers.pipeline("token-classification", model=dir)`` load the PII head directly; the
coreference head sits beside it in ``coref_head.safetensors`` and ``label_mappings.json`` has
the Kiji proxy's format ``{"pii": {"label2id", "id2label"}, "coref": {"id2label"}}``.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.training.config import PRECISIONS
from pii_assets.training.metrics import Span, decode_iob2

COREF_HEAD = "coref_head.safetensors"
LABEL_MAPPINGS = "label_mappings.json"
DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob",  # BERT-likes
                "dropout", "attention_dropout",  # DistilBERT
                "embedding_dropout", "mlp_dropout")  # ModernBERT
"""Config attributes that hold a dropout probability of the encoder, across the usual families
(``classifier_dropout``, where a family has it, is the PII head's)."""


def coref_labels(n: int) -> dict[int, str]:
    return {0: "NO_COREF", **{i: f"CLUSTER_{i}" for i in range(1, n)}}


def device_and_dtype(precision: str = "auto", cpu_bf16: bool = False) -> tuple[torch.device, torch.dtype | None]:
    """The device and the autocast dtype (None: fp32).

    CUDA: bf16 autocast where supported, fp16 otherwise. CPU: fp32, unless ``cpu_bf16`` and the
    CPU computes bf16 natively: AMX tiles (Xeon since Sapphire Rapids) or AVX512-BF16 (AMD Zen 4
    and later, Cooper Lake), where oneDNN's bf16 matmuls make a training step 1.4x faster than
    fp32 (measured on both kinds, docs/benchmarks.md); on other CPUs bf16 is emulated and slower
    than fp32. ``precision="fp32"`` disables autocast, ``"bf16"`` forces it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if torch.cuda.is_available():
        device = torch.device("cuda")
        auto = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        device = torch.device("cpu")
        auto = torch.bfloat16 if cpu_bf16 and native_cpu_bf16() else None
    return device, {"auto": auto, "bf16": torch.bfloat16, "fp32": None}[precision]


def native_cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX512-BF16 dot products)."""
    return any(getattr(torch.cpu, probe, lambda: False)()
               for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))


class Fp32Attention(TorchFunctionMode):
    """Runs ``scaled_dot_product_attention`` in fp32 inside a bf16 autocast region on a CPU.

    PyTorch's CPU flash-attention backward is ~4x slower in bf16 than in fp32 at MiniLM's head
    size (32): 28 against 8 ms per layer for 8 windows of 160 tokens, 2 cores with AMX. Upcasting
    q, k and v makes a MiniLM training step 1.2x faster (docs/benchmarks.md); the linear layers,
    where bf16 pays, stay bf16. Any backbone that attends through SDPA is covered. Autograd
    differentiates through the casts, so the backward runs in fp32 too.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is nn.functional.scaled_dot_product_attention and args[0].dtype == torch.bfloat16:
            def up(x):  # q, k, v and a float mask, positional or not
                return x.float() if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16 else x

            with torch.autocast("cpu", enabled=False):
                out = func(*map(up, args), **{k: up(v) for k, v in kwargs.items()})
            return out.to(torch.bfloat16)
        return func(*args, **kwargs)


class PiiModel(nn.Module):
    def __init__(self, token_model: nn.Module, n_coref: int):
        super().__init__()
        self.token_model = token_model
        hidden = token_model.config.hidden_size
        dropout = getattr(token_model.config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        self.coref = nn.Linear(hidden, n_coref)
        self.n_coref = n_coref

    @classmethod
    def from_backbone(cls, path_or_name: str, catalogue: Catalogue = DEFAULT, n_coref: int = 3,
                      dropout: float | None = None, head_dropout: float | None = None) -> PiiModel:
        """A new model on a pre-trained backbone (new, randomly initialised heads).

        ``dropout`` overrides every dropout of the encoder, ``head_dropout`` the one on the last
        hidden state before the PII and coreference heads (None keeps the backbone's, 0.1 for
        BERT-likes; backbones without ``classifier_dropout`` use ``dropout`` for the PII head).
        With no dropout in the encoder PyTorch's fused attention kernel runs instead of the unfused
        one that materialises the attention-dropout mask, and no per-layer random masks are drawn:
        a MiniLM training step on a CPU is 2x faster (docs/benchmarks.md).
        """
        from transformers import AutoConfig, AutoModelForTokenClassification

        tags = catalogue.iob2_labels()
        config = AutoConfig.from_pretrained(
            path_or_name, num_labels=len(tags), id2label=dict(enumerate(tags)),
            label2id={t: i for i, t in enumerate(tags)})
        overrides = {name: dropout for name in DROPOUT_KEYS if dropout is not None and hasattr(config, name)}
        if head_dropout is not None and hasattr(config, "classifier_dropout"):
            overrides["classifier_dropout"] = head_dropout
        for name, value in overrides.items():
            setattr(config, name, value)
        model = cls(AutoModelForTokenClassification.from_pretrained(path_or_name, config=config,
                                                                    ignore_mismatched_sizes=True), n_coref)
        if head_dropout is not None:
            model.dropout.p = head_dropout
        return model

    def classifier_parameters(self) -> list[nn.Parameter]:
        """The PII head: the token classifier's parameters outside its pre-trained base model."""
        base = {id(p) for p in self.token_model.base_model.parameters()}
        return [p for p in self.token_model.parameters() if id(p) not in base]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        out = self.token_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        coref_logits = self.coref(self.dropout(out.hidden_states[-1]))
        return out.logits, coref_logits

    def save(self, directory: Path, tokenizer) -> None:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        self.token_model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.coref.state_dict().items()},
                  str(directory / COREF_HEAD))
        config = self.token_model.config
        mappings = {
            "pii": {"label2id": dict(config.label2id), "id2label": {str(k): v for k, v in config.id2label.items()}},
            "coref": {"id2label": {str(k): v for k, v in coref_labels(self.n_coref).items()}},
        }
        (directory / LABEL_MAPPINGS).write_text(json.dumps(mappings, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> PiiModel:
        from safetensors.torch import load_file
        from transformers import AutoModelForTokenClassification

        mappings = json.loads((directory / LABEL_MAPPINGS).read_text(encoding="utf-8"))
        model = cls(AutoModelForTokenClassification.from_pretrained(directory), len(mappings["coref"]["id2label"]))
        model.coref.load_state_dict(load_file(str(directory / COREF_HEAD)))
        return model


def transition_mask(id2label: dict[int, str]) -> np.ndarray:
    """allowed[i, j]: tag j may follow tag i in IOB2 (I-X only after B-X or I-X)."""
    n = len(id2label)
    allowed = np.ones((n, n), dtype=bool)
    for j, tag in id2label.items():
        if tag.startswith("I-"):
            for i, prev in id2label.items():
                allowed[i, j] = prev[2:] == tag[2:] and prev[:2] in ("B-", "I-")
    return allowed


def viterbi(probs: np.ndarray, allowed: np.ndarray, o_weight: float = 1.0,
            tag_weights: np.ndarray | None = None) -> np.ndarray:
    """Most likely IOB2-valid tag sequence for one window (``probs``: tokens x tags).

    ``o_weight`` scales the probability of ``O`` (tag 0) before decoding: below 1 the decoder
    tags more tokens as PII (higher sensitivity), above 1 fewer. ``tag_weights`` (one per tag)
    scale each tag's probability as well: the per-label weights calibrated on the validation split.
    """
    if not len(probs):
        return np.zeros(0, dtype=np.int64)
    logp = np.log(np.clip(probs, 1e-12, None))
    if tag_weights is not None:
        logp += np.log(tag_weights)
    logp[:, 0] += np.log(o_weight)
    penalty = np.where(allowed, 0.0, -1e9)
    score = logp[0] + np.where(allowed[0], 0.0, -1e9)  # a window starts as if after O (B- first)
    back = np.zeros(probs.shape, dtype=np.int64)
    for t in range(1, len(probs)):
        cand = score[:, None] + penalty
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + logp[t]
    tags = np.zeros(len(probs), dtype=np.int64)
    tags[-1] = int(score.argmax())
    for t in range(len(probs) - 1, 0, -1):
        tags[t - 1] = back[t, tags[t]]
    return tags


DECODING_FILE = "decoding.json"
"""Beside a model's weights: ``{"label_weights": {label: factor}}``, the per-label weights calibrated
on the release's validation split (``pii_assets.training.calibrate``); a factor above 1 tags the
label more readily, below 1 less. Absent: every factor is 1."""


def tag_weights(id2label: dict[int, str], label_weights: Mapping[str, float]) -> np.ndarray:
    """One weight per tag id: a label's factor for its ``B-`` and ``I-`` tags, 1 for ``O``."""
    return np.array([label_weights.get(id2label[i][2:], 1.0) if id2label[i] != "O" else 1.0
                     for i in range(len(id2label))])


def load_label_weights(model_dir: Path) -> dict[str, float] | None:
    """The calibrated per-label weights of a model directory, or None."""
    path = Path(model_dir) / DECODING_FILE
    if not path.is_file():
        return None
    return {str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8"))["label_weights"].items()}


class Decoder:
    """Tags and scores of one window's token probabilities (tokens x tags).

    Tags: the most likely IOB2-valid sequence (``viterbi``). Score of a token: the probability
    of its tag's label, ``B-X`` and ``I-X`` together (``O``: of ``O``). The model can be sure a
    token is a date and unsure whether it starts one (``March 3, 1985``: ``1985`` has I 0.97,
    B 0.02; the comma before it is O); when the IOB2 constraint makes it ``B-``, the score says
    0.99, not 0.02.
    """

    def __init__(self, id2label: dict[int, str], label_weights: Mapping[str, float] | None = None):
        self.allowed = transition_mask(id2label)
        self.tag_weights = tag_weights(id2label, label_weights) if label_weights else None
        label2id = {tag: i for i, tag in id2label.items()}
        other = {"B-": "I-", "I-": "B-"}
        self.sibling = np.array([label2id.get(other.get(id2label[i][:2], "") + id2label[i][2:], i)
                                 for i in range(len(id2label))])

    def __call__(self, probs: np.ndarray, o_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        tags = viterbi(probs, self.allowed, o_weight, self.tag_weights)
        rows, sibling = np.arange(len(tags)), self.sibling[tags]
        return tags, probs[rows, tags] + np.where(sibling != tags, probs[rows, sibling], 0.0)


def merge_windows(windows: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
                  ) -> list[tuple[int, int, int, float]]:
    """Token predictions of one text from overlapping windows.

    ``windows``: (token_start, token_end, predicted id, probability) arrays per window, special
    tokens already removed. A token seen in several windows keeps the prediction of the window
    in which it sits furthest from an edge (most context on both sides).
    """
    best: dict[tuple[int, int], tuple[int, int, float]] = {}
    for starts, ends, preds, probs in windows:
        n = len(starts)
        for i in range(n):
            depth = min(i, n - 1 - i)
            key = (int(starts[i]), int(ends[i]))
            if key not in best or depth > best[key][0]:
                best[key] = (depth, int(preds[i]), float(probs[i]))
    return [(s, e, pred, prob) for (s, e), (_, pred, prob) in sorted(best.items())]


NO_TRAILING_PUNCTUATION = frozenset(label.name for label in DEFAULT.labels if label.shape == "address")
"""Labels whose values never end in sentence punctuation, a quote or an unbalanced ``)`` (e-mails,
URLs): ``mail me at a@b.it.`` ends the sentence, not the address (GitHub's autolinks use the same
rule). No gold e-mail or URL in the demo data ends in one."""


def _strip_trailing_punctuation(value: str) -> str:
    while value and (value[-1] in "?!.,:;'\"" or value[-1] == ")" and value.count("(") < value.count(")")):
        value = value[:-1]
    return value


WORDS = frozenset(label.name for label in DEFAULT.labels if label.shape == "word")
"""Labels whose values start and end with a letter, a digit or an apostrophe (names, dates, numbers,
codes; no gold value of these labels in the demo data starts or ends otherwise): their span drops
the characters at its edges that are none of these. A tokenizer that does not split punctuation
from words gives tokens that hold both (SentencePiece's ``▁Christian,``), and the label goes to the
whole token."""


def _after_assignment(text: str, start: int, end: int) -> int:
    """Where a value of a ``word`` or ``text`` label starts: after the last ``=`` in its span, which
    such values never hold (URLs and passwords do) and a ``key=value`` piece may join to it."""
    return text.rfind("=", start, end) + 1 or start


def _word_edges(text: str, start: int, end: int) -> tuple[int, int]:
    def inside(c: str) -> bool:  # an apostrophe may start or end a name ('s Gravesande, Malamori')
        return c.isalnum() or c in "'’"

    start = _after_assignment(text, start, end)
    while start < end and not inside(text[start]):
        start += 1
    while end > start and not inside(text[end - 1]):
        end -= 1
    return start, end


TEXTS = frozenset(label.name for label in DEFAULT.labels if label.shape == "text")
"""Labels whose values are words that may end in a period or start with ``+`` (places, companies,
phone numbers: ``U.S.``, ``Dowergstr.``, ``+49 30 1234``): their span drops a ``,``, ``;`` or ``:``
at its end, a bracket at its edges that has no partner inside it, and a pair of brackets around
all of it (``(Groningen)`` from SentencePiece's ``▁(Groningen)``; ``(030) 1234`` and
``Nederland (NL)`` keep theirs). No gold value of these labels in the demo data ends in ``,;:``,
holds an unpaired bracket or is wrapped in a pair."""


def _text_edges(text: str, start: int, end: int) -> tuple[int, int]:
    start = _after_assignment(text, start, end)
    while True:
        value = text[start:end]
        if value[:1] == "(" and (")" not in value or value.endswith(")") and value.count(")") == 1):
            start += 1  # an opening bracket without a partner, or one of a pair around the whole value
        elif value[-1:] in (",", ";", ":") or value[-1:] == ")" and "(" not in value:
            end -= 1
        else:
            return start, end


IDENTIFIERS = frozenset(label.name for label in DEFAULT.labels if label.shape in ("token", "address"))
"""Labels whose values are written without spaces (usernames, passwords, e-mails, URLs): their
span covers the whole identifier it touches, letters and digits joined by ``.``, ``_`` or ``-``
(``monja.kallert``, never ``monja.`` or ``kallert`` alone)."""
_IDENTIFIER_TAIL = re.compile(r"(?:[._-]*[^\W_]+)*")


def _identifier(text: str, start: int, end: int) -> tuple[int, int]:
    """``start, end`` widened to the identifier around them (see ``IDENTIFIERS``)."""
    while start and (text[start - 1].isalnum()
                     or text[start - 1] in "._-" and start > 1 and text[start - 2].isalnum()):
        start -= 1
    return start, _IDENTIFIER_TAIL.match(text, end).end()


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each line of ``text[start:end]``, without the spaces around it: a value
    does not cross a line break (none of the 10,084 gold values of the demo data does)."""
    out = []
    for m in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def _has_alnum(value: str) -> bool:
    return any(c.isalnum() for c in value)


def _only_spaces(gap: str) -> bool:
    return gap.isspace() and "\n" not in gap


def tokens_to_spans(tokens: list[tuple[int, int, int, float]], id2label: dict[int, str], text: str
                    ) -> list[tuple[Span, float]]:
    """Decoded spans with their score (the mean score of their labelled tokens, see ``Decoder``).

    Words are whole: a token inside a run of letters and digits (touching the previous token,
    with letters or digits on both sides of the seam) takes the tag of the word's first token, as
    transformers' ``aggregation_strategy="first"`` does. The model sometimes tags ``Boude`` and
    not ``##wijns``; a value never starts or ends inside a word, so the word decides.

    Two spans of the same label become one when they sit inside one run of characters without
    whitespace (each token touching the next), or when only spaces separate them: a value is not
    split at its punctuation (``o02KN=qX_l!@rL5``, ``Schmidt-Meyer``), which the pre-tokenizer
    makes separate tokens of, nor between its words (``15. Mai`` + ``1975``, ``Bundesrepublik`` +
    ``Deutschland``), where the model sometimes starts the tag again. Two values of one label
    separated by nothing but spaces do not occur in the demo data (1 of 10,084 spans follows one
    of its label across whitespace, and that across a blank line).

    Last, a span that crosses a line break becomes one span per line (``_lines``), a span of a
    label written without spaces covers its whole identifier (``IDENTIFIERS``), an e-mail or URL
    drops trailing sentence punctuation (``NO_TRAILING_PUNCTUATION``), a name, date, number or code
    drops what is not a letter, digit or apostrophe at its edges (``WORDS``), a place, company or
    phone number drops a trailing ``,;:`` and unpaired brackets (``TEXTS``), both drop a ``key=``
    before the value, and a span without a letter or digit (a lone ``(``) is dropped.
    """
    tags = [id2label[p] for _, _, p, _ in tokens]
    for i in range(1, len(tokens)):
        seam = tokens[i][0]
        if seam == tokens[i - 1][1] and text[seam - 1:seam].isalnum() and text[seam:seam + 1].isalnum():
            tags[i] = "O" if tags[i - 1] == "O" else "I-" + tags[i - 1][2:]
    spans = decode_iob2((s, e, tag) for (s, e, _, _), tag in zip(tokens, tags))
    starts = [s for s, _, _, _ in tokens]  # tokens are sorted by start
    run = np.cumsum([i > 0 and s > tokens[i - 1][1] for i, (s, _, _, _) in enumerate(tokens)])
    merged: list[list] = []  # [start, end, label, first token, last token]
    for start, end, label in spans:
        first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end) - 1
        if merged and merged[-1][2] == label and (run[merged[-1][4]] == run[first]
                                                   or _only_spaces(text[merged[-1][1]:start])):
            merged[-1][1], merged[-1][4] = end, last
        else:
            merged.append([start, end, label, first, last])
    lines = [(s, e, label) for start, end, label, _, _ in merged for s, e in _lines(text, start, end)]
    out: list[tuple[Span, float]] = []
    for start, end, label in lines:
        if label in IDENTIFIERS:
            start, end = _identifier(text, start, end)
        if label in NO_TRAILING_PUNCTUATION:
            end = start + len(_strip_trailing_punctuation(text[start:end]))
        if label in WORDS:
            start, end = _word_edges(text, start, end)
        elif label in TEXTS:
            start, end = _text_edges(text, start, end)
        if not _has_alnum(text[start:end]):
            continue  # a lone "(" or "-" is not a value
        if out and start < out[-1][0][1]:  # overlaps the identifier before it
            if label not in IDENTIFIERS:
                continue
            while out and start < out[-1][0][1]:
                out.pop()
        first = bisect.bisect_left(starts, start)
        probs = [prob for s, e, tag, prob in tokens[first:bisect.bisect_right(starts, end)]
                 if e <= end and id2label[tag] != "O"]
        out.append(((start, end, label), float(np.mean(probs)) if probs else 0.0))
    return out
