"""Training hyper-parameters (no torch import, so the Dagster layer can read the defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class TrainConfig:
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 8e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    patience: int = 2
    """Evaluations without a better validation macro F1 before stopping."""
    evals_per_epoch: int = 2
    coref_weight: float = 0.3
    group_by_length: bool = True
    fixed_length: int | None = None
    """Pad every batch to this many tokens instead (the baseline of the throughput benchmark)."""
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)
