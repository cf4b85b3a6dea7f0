"""The SFT dataset for LLaMA-Factory: per-category PII classification examples (see docs/sft.md)."""

from pii_assets.sft.build import (
    DATASET_NAMES,
    FILES,
    SYSTEM,
    SftConfig,
    build_sft,
    dataset_info,
    make_examples,
    stats_markdown,
    write_sft,
)
from pii_assets.sft.check import MIN_PER_CATEGORY, CheckResult, check_sft

__all__ = ["DATASET_NAMES", "FILES", "SYSTEM", "MIN_PER_CATEGORY", "CheckResult", "SftConfig", "build_sft", "check_sft",
           "dataset_info", "make_examples", "stats_markdown", "write_sft"]
