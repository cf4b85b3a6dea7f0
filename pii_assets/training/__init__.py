"""Training-side domain code: backbones, tokens/alignment (no Dagster imports)."""
