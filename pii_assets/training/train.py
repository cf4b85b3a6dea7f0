"""Training loop: dynamic padding, length-grouped batches, AdamW + warmup, early stopping on
strict entity-level macro F1 of the validation split. Plain PyTorch, no Dagster."""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch import nn

from pii_assets.training.metrics import EntityReport, Gold, Span, evaluate
from pii_assets.training.model import (
    Decoder, Fp32Attention, PiiModel, device_and_dtype, merge_windows, tokens_to_spans,
)
from pii_assets.training.config import TrainConfig
from pii_assets.training.scoring import Scorer, TorchScorer, pad, probabilities_by_length
from pii_assets.training.tokens import IGNORE


@dataclass
class Windows:
    """Token windows of one split, as numpy arrays (unpadded)."""

    sample_id: list[str]
    input_ids: list[np.ndarray]
    labels: list[np.ndarray]
    coref: list[np.ndarray]
    token_start: list[np.ndarray]
    token_end: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.sample_id)

    @classmethod
    def from_frame(cls, df: pl.DataFrame) -> Windows:
        def arrays(col: str, dtype) -> list[np.ndarray]:
            return [np.asarray(x, dtype=dtype) for x in df[col].to_list()]

        return cls(df["sample_id"].to_list(), arrays("input_ids", np.int64), arrays("labels", np.int64),
                   arrays("coref", np.int64), arrays("token_start", np.int64), arrays("token_end", np.int64))

    @classmethod
    def read_splits(cls, paths: Sequence[Path], splits: dict[str, set[str]]) -> dict[str, Windows]:
        """Windows of each named set of sample ids, reading every token file once."""
        df = pl.concat([pl.read_parquet(p) for p in paths]) if paths else None
        return {name: cls.from_frame(df.filter(pl.col("sample_id").is_in(list(ids))))
                if df is not None else cls([], [], [], [], [], []) for name, ids in splits.items()}


PROGRESS_LINES_PER_EPOCH = 5
"""Progress lines (step, recent loss, speed, time left) logged per epoch between evaluations."""


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                           mega: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar length: sort within random mega-batches, shuffle batch order."""
    order = rng.permutation(len(lengths))
    batches = []
    for i in range(0, len(order), batch_size * mega):
        chunk = order[i:i + batch_size * mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(windows: Windows, idx: np.ndarray, pad_id: int, fixed_length: int | None = None,
            multiple_of: int = 1):
    """Padded tensors of windows ``idx``: to ``fixed_length``, or to the longest window rounded up
    to a multiple of ``multiple_of`` (fewer distinct shapes for the CPU kernels to prepare)."""
    length = fixed_length or -(-max(len(windows.input_ids[i]) for i in idx) // multiple_of) * multiple_of
    input_ids, attention = pad([windows.input_ids[i] for i in idx], length, pad_id)
    labels, _ = pad([windows.labels[i] for i in idx], length, IGNORE)
    coref, _ = pad([windows.coref[i] for i in idx], length, IGNORE)
    return (torch.from_numpy(input_ids), torch.from_numpy(attention), torch.from_numpy(labels),
            torch.from_numpy(coref))


def decode(windows: Windows, probabilities: list[np.ndarray], id2label: dict[int, str],
           label_weights: dict[str, float] | None = None, only: Iterable[int] | None = None):
    """Per window (of ``only``, default all): (IOB2-valid tag ids, their scores) from ``Decoder``,
    all tokens (special tokens: O, 0)."""
    decoder = Decoder(id2label, label_weights)
    out = []
    for w in range(len(probabilities)) if only is None else only:
        probs = probabilities[w]
        real = windows.labels[w] != IGNORE  # not a special token
        tags, scores = np.zeros(len(probs), dtype=np.int64), np.zeros(len(probs))
        tags[real], scores[real] = decoder(probs[real])
        out.append((tags, scores))
    return out


def predict(scorer: Scorer, windows: Windows, pad_id: int, label_weights: dict[str, float] | None = None):
    return decode(windows, probabilities_by_length(scorer, windows.input_ids, pad_id), scorer.id2label, label_weights)


def predicted_spans(windows: Windows, predictions, id2label: dict[int, str], gold: dict[str, Gold]
                    ) -> dict[str, list[tuple[Span, float]]]:
    """Merge window predictions per sample and decode them into scored character spans (``gold``
    gives each sample's text, for the word boundaries)."""
    per_sample: dict[str, list[int]] = {}
    for w in range(len(predictions)):
        per_sample.setdefault(windows.sample_id[w], []).append(w)
    return {sid: sample_spans(windows, ws, predictions, id2label, gold[sid].text) for sid, ws in per_sample.items()}


def sample_spans(windows: Windows, window_ids: Iterable[int], predictions, id2label: dict[int, str], text: str
                 ) -> list[tuple[Span, float]]:
    """Scored character spans of one sample from the predictions (``predictions[w]``: tags, scores)
    of its windows ``window_ids``, merged."""
    parts = []
    for w in window_ids:
        pred, prob = predictions[w]
        keep = windows.labels[w] != IGNORE  # drops special tokens (same positions as the input)
        parts.append((windows.token_start[w][keep], windows.token_end[w][keep], pred[keep], prob[keep]))
    return tokens_to_spans(merge_windows(parts), id2label, text)


def window_examples(scorer: Scorer | PiiModel, windows: Windows, gold: dict[str, Gold], pad_id: int,
                    label_weights: dict[str, float] | None = None) -> list[tuple[str, list[Span], list[Span]]]:
    """(language, gold spans, predicted spans) per sample of ``gold``: what ``evaluate`` scores."""
    if isinstance(scorer, PiiModel):
        scorer = TorchScorer(scorer)
    spans = predicted_spans(windows, predict(scorer, windows, pad_id, label_weights), scorer.id2label, gold)
    return [(g.language, g.spans, [s for s, _ in spans.get(sid, [])]) for sid, g in gold.items()]


def evaluate_windows(scorer: Scorer | PiiModel, windows: Windows, gold: dict[str, Gold], pad_id: int) -> EntityReport:
    """Strict entity-level report of a model on ``windows`` against gold spans per sample id."""
    return evaluate(window_examples(scorer, windows, gold, pad_id))


def parameter_groups(model: PiiModel, config: TrainConfig) -> list[dict]:
    """AdamW groups: no weight decay on biases and norms; the new heads at ``head_learning_rate``."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    heads = {id(p) for p in (*model.classifier_parameters(), *model.coref.parameters())}
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        groups.setdefault((id(p) in heads, any(nd in name for nd in no_decay)), []).append(p)
    head_lr = config.head_learning_rate or config.learning_rate
    return [{"params": ps, "lr": head_lr if head else config.learning_rate,
             "weight_decay": 0.0 if decay_free else config.weight_decay}
            for (head, decay_free), ps in sorted(groups.items())]


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    """One entry per validation: step, epoch, loss since the last one, learning rate, val F1."""
    losses: list[tuple[int, float]] = field(default_factory=list)
    """(step, mean training loss of the steps since the previous point), every progress line's step."""
    best_macro_f1: float = -1.0
    best_step: int = 0
    steps: int = 0
    seconds: float = 0.0
    windows_per_second: float = 0.0
    stopped_early: bool = False
    trained_on: str = ""
    """Device and precision, e.g. ``cpu (bfloat16)``."""


def train(model: PiiModel, train_windows: Windows, val_windows: Windows,
          val_gold: dict[str, Gold], pad_id: int, config: TrainConfig,
          log: Callable[[str], None] = print) -> TrainResult:
    """Train in place; the model ends with the weights of the best validation macro F1."""
    from transformers import get_linear_schedule_with_warmup

    if not len(train_windows):
        raise ValueError("no training windows: the release has no samples in its train split")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device, autocast_dtype = device_and_dtype(config.precision, cpu_bf16=True)
    model.to(device)
    # bf16 attention backward is slow on a CPU (see Fp32Attention)
    cpu_bf16 = device.type == "cpu" and autocast_dtype == torch.bfloat16
    lengths = np.array([len(x) for x in train_windows.input_ids])
    steps_per_epoch = math.ceil(len(lengths) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.learning_rate, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    # fp16 (a GPU without bf16) needs loss scaling against underflowing gradients; else a no-op
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    progress_every = max(1, steps_per_epoch // PROGRESS_LINES_PER_EPOCH)
    result, best_state, bad_evals, seen = TrainResult(), None, 0, 0
    start, running = time.perf_counter(), []
    precision = str(autocast_dtype).removeprefix("torch.") if autocast_dtype else "fp32"
    result.trained_on = f"{device.type} ({precision})"
    log(f"training {len(lengths)} windows, {config.epochs} epochs x {steps_per_epoch} steps "
        f"on {result.trained_on}")
    for epoch in range(config.epochs):
        model.train()
        if config.group_by_length:
            batches = length_grouped_batches(lengths, config.batch_size, rng)
        else:
            order = rng.permutation(len(lengths))
            batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        for idx in batches:
            input_ids, attention, labels, coref = (t.to(device) for t in collate(
                train_windows, idx, pad_id, config.fixed_length, config.pad_to_multiple_of))
            with (torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None),
                  Fp32Attention() if cpu_bf16 else contextlib.nullcontext()):
                pii_logits, coref_logits = model(input_ids, attention)
            loss = loss_fn(pii_logits.float().flatten(0, 1), labels.flatten())
            if config.coref_weight:
                loss = loss + config.coref_weight * loss_fn(coref_logits.float().flatten(0, 1), coref.flatten())
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            seen += len(idx)
            running.append(loss.item())
            if result.steps % progress_every == 0 or result.steps == total_steps:
                since = result.steps - (result.losses[-1][0] if result.losses else 0)
                result.losses.append((result.steps, round(float(np.mean(running[-since:])), 4)))
            if result.steps % progress_every == 0 and result.steps % eval_every and result.steps < total_steps:
                elapsed = time.perf_counter() - start
                left = elapsed / result.steps * (total_steps - result.steps)
                log(f"step {result.steps}/{total_steps} epoch={result.steps / steps_per_epoch:.2f} "
                    f"loss={np.mean(running[-progress_every:]):.4f} {seen / elapsed:.1f} windows/s, "
                    f"~{left / 60:.1f} min to go")
            if result.steps % eval_every == 0 or result.steps == total_steps:
                entry = {"step": result.steps, "epoch": round(result.steps / steps_per_epoch, 2),
                         "loss": round(float(np.mean(running)), 4), "lr": scheduler.get_last_lr()[0]}
                running = []
                if len(val_windows):
                    report = evaluate_windows(model, val_windows, val_gold, pad_id)
                    entry.update({"val_macro_f1": round(report.macro_f1, 4),
                                  "val_micro_f1": round(report.micro.f1, 4)})
                    model.train()
                    if report.macro_f1 > result.best_macro_f1:
                        result.best_macro_f1, result.best_step, bad_evals = report.macro_f1, result.steps, 0
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        bad_evals += 1
                result.history.append(entry)
                log(" ".join(f"{k}={v}" for k, v in entry.items()))
                if bad_evals >= config.patience:
                    result.stopped_early = True
                    break
        if result.stopped_early:
            log(f"early stop at step {result.steps}: no better validation macro F1 for {bad_evals} evaluations")
            break
    result.seconds = time.perf_counter() - start
    result.windows_per_second = seen / result.seconds if result.seconds else 0.0
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
