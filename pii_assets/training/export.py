"""Trained model directory -> int8 ONNX directory (the Kiji proxy's "load custom model" contract).

The export goes through optimum's ONNX exporter with the backbone's own token-classification
ONNX config, extended by one output: the graph returns ``logits`` (the PII head, what
``ORTModelForTokenClassification`` reads) and ``coref_logits`` (the coreference head). The
exported graph is then quantized to int8 by optimum's ``ORTQuantizer`` (onnxruntime dynamic
quantization). The choices are measured in docs/benchmarks.md:

- dynamic quantization of ``MatMul`` and ``Gather`` (the embedding tables are half of MiniLM's
  weights; keeping them in float would leave the file at ~55% of fp32);
- per-channel weight scales (per-tensor scales lost 1.9 F1 points on release r3's test split);
- activation x activation MatMuls (attention scores and context) stay in float: they have no
  weights to shrink, and quantizing both operands at run time cost accuracy;
- ``keep_float``: name patterns of further nodes to leave in float; by default the position and
  token-type embedding lookups (measured: the gate failed on release r1 without them).

Directory written: ``model_quantized.onnx``, ``config.json``, ``label_mappings.json``, the tokenizer
files (``tokenizer.json`` first) and ``ort_config.json`` (optimum's record of the quantization).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pii_assets.storage import atomic_directory
from pii_assets.training.model import DECODING_FILE
from pii_assets.training.model import LABEL_MAPPINGS, PiiModel
from pii_assets.training.scoring import QUANTIZED_ONNX

OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "spm.model", "sentencepiece.bpe.model", "merges.txt", "vocab.json", "added_tokens.json")


@dataclass(frozen=True)
class QuantizationChoice:
    operators: tuple[str, ...] = ("MatMul", "Gather")
    per_channel: bool = True
    symmetric_weights: bool = False
    """Asymmetric int8 weights (a zero point per channel) lost 0.03-0.26 F1 points where symmetric
    ones lost 0.17-0.48, on three demo-data models scored window by window (docs/benchmarks.md)."""
    keep_float: tuple[str, ...] = (r"position_embeddings|token_type_embeddings",)
    """Regular expressions: nodes whose name matches one stay in float. By default the position and
    token-type embedding lookups: tiny tables (512 x hidden) that a single int8 scale per table
    shifts at every token (on release r1 keeping them in float turned a 0.68-point F1 loss into a
    0.17-point gain)."""

    def to_json(self) -> dict:
        return {"operators": list(self.operators), "per_channel": self.per_channel,
                "symmetric_weights": self.symmetric_weights, "keep_float": list(self.keep_float),
                "mode": "dynamic", "weights": "int8", "activations": "uint8"}


@dataclass
class ExportInfo:
    onnx_fp32_bytes: int = 0
    quantized_bytes: int = 0
    excluded_nodes: list[str] = field(default_factory=list)


class _TwoHeads(nn.Module):
    """The export view of a PiiModel: forward(**inputs) -> {"logits", "coref_logits"}."""

    def __init__(self, model: PiiModel):
        super().__init__()
        self.model = model
        self.config = model.token_model.config

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        token_model = self.model.token_model
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = token_model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **kwargs)
        return {"logits": out.logits, "coref_logits": self.model.coref(out.hidden_states[-1])}


def _onnx_config(token_model):
    from optimum.exporters.tasks import TasksManager

    constructor = TasksManager.get_exporter_config_constructor(
        exporter="onnx", model=token_model, task="token-classification", library_name="transformers")
    base = constructor(token_model.config)

    class WithCoref(type(base)):
        @property
        def outputs(self):
            return {**super().outputs, "coref_logits": {0: "batch_size", 1: "sequence_length"}}

    return WithCoref(token_model.config, task="token-classification")


def export_fp32(trained_dir: Path, out_dir: Path) -> Path:
    """Export the trained model (both heads) to ``out_dir/model.onnx`` with optimum's exporter."""
    from optimum.exporters.onnx.convert import export

    model = PiiModel.load(trained_dir).eval()
    wrapper = _TwoHeads(model).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        # optimum 0.1 drives torch's TorchScript exporter, which warns about its own deprecation
        # and about traced constants in transformers' mask helper; neither affects this graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        export(model=wrapper, config=_onnx_config(model.token_model), output=path, opset=OPSET)
    model.token_model.config.save_pretrained(out_dir)
    return path


def float_nodes(onnx_path: Path, choice: QuantizationChoice) -> list[str]:
    """Nodes to leave in float: activation x activation MatMuls (attention scores and context,
    both operands computed at run time) and the nodes matching ``choice.keep_float``."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    regex = re.compile("|".join(f"(?:{p})" for p in choice.keep_float)) if choice.keep_float else None
    return [n.name for n in graph.node if n.op_type in choice.operators and (
        (n.op_type == "MatMul" and not any(i in weights for i in n.input))
        or (regex is not None and regex.search(n.name)))]


def quantize(trained_dir: Path, out_dir: Path, choice: QuantizationChoice = QuantizationChoice()) -> ExportInfo:
    """Write the int8 ONNX directory for ``trained_dir`` to ``out_dir`` (atomically)."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    info = ExportInfo()
    with tempfile.TemporaryDirectory(prefix="pii-onnx-") as tmp, atomic_directory(out_dir) as final:
        fp32 = export_fp32(trained_dir, Path(tmp))
        info.onnx_fp32_bytes = fp32.stat().st_size
        info.excluded_nodes = float_nodes(fp32, choice)
        qconfig = AutoQuantizationConfig.avx512_vnni(
            is_static=False, per_channel=choice.per_channel, operators_to_quantize=list(choice.operators),
            nodes_to_exclude=info.excluded_nodes)
        qconfig.weights_symmetric = choice.symmetric_weights
        ORTQuantizer.from_pretrained(tmp, file_name=fp32.name).quantize(
            quantization_config=qconfig, save_dir=final)
        produced = final / f"{fp32.stem}_quantized.onnx"
        if produced.name != QUANTIZED_ONNX:
            produced.rename(final / QUANTIZED_ONNX)
        shutil.copy2(Path(tmp) / "config.json", final / "config.json")
        for name in (*TOKENIZER_FILES, LABEL_MAPPINGS, DECODING_FILE):
            if (trained_dir / name).exists():
                shutil.copy2(trained_dir / name, final / name)
        info.quantized_bytes = (final / QUANTIZED_ONNX).stat().st_size
    return info
