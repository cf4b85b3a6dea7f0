"""ONNX export + int8 quantization of a (tiny) trained model, and the parity measures."""

import numpy as np
import polars as pl
import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.training.backbone import load_tokenizer
from pii_assets.training.export import QuantizationChoice, export_fp32, float_nodes, quantize
from pii_assets.training.metrics import gold_spans
from pii_assets.training.model import PiiModel
from pii_assets.training.parity import parity
from pii_assets.training.scoring import QUANTIZED_ONNX, OnnxScorer, TorchScorer, load_scorer
from pii_assets.training.tokens import Aligner, WindowConfig
from pii_assets.training.train import Windows


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_backbone):
    directory = tmp_path_factory.mktemp("trained")
    PiiModel.from_backbone(tiny_backbone, DEFAULT, 3).save(directory, load_tokenizer(tiny_backbone))
    return directory


@pytest.fixture(scope="module")
def test_set(tiny_backbone, corpus):
    samples = corpus[:40]
    aligner = Aligner(load_tokenizer(tiny_backbone), DEFAULT, WindowConfig(96, 16))
    return Windows.from_frame(pl.from_arrow(aligner.encode(samples))), gold_spans(samples)


def test_quantized_directory_has_the_contract_files_and_both_heads(model_dir, tmp_path):
    import onnxruntime as ort

    info = quantize(model_dir, tmp_path / "q")
    names = {p.name for p in (tmp_path / "q").iterdir()}
    assert {QUANTIZED_ONNX, "tokenizer.json", "label_mappings.json", "config.json"} <= names
    assert "model.onnx" not in names  # the fp32 export is not shipped
    assert info.quantized_bytes < info.onnx_fp32_bytes
    session = ort.InferenceSession(str(tmp_path / "q" / QUANTIZED_ONNX), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "coref_logits"]
    assert isinstance(load_scorer(tmp_path / "q"), OnnxScorer) and isinstance(load_scorer(model_dir), TorchScorer)


def test_int8_scores_of_a_window_do_not_depend_on_its_batch(model_dir, tmp_path, test_set):
    """Dynamic quantization scales activations per tensor: the int8 scorer runs each window alone."""
    quantize(model_dir, tmp_path / "q")
    scorer = load_scorer(tmp_path / "q")
    assert scorer.window_by_window and not OnnxScorer(export_fp32(model_dir, tmp_path / "fp32")).window_by_window
    windows, _ = test_set
    n = [len(w) for w in windows.input_ids[:3]]
    ids = np.zeros((3, max(n) + 5), dtype=np.int64)  # padded past the longest window too
    mask = np.zeros_like(ids)
    for row, w in enumerate(windows.input_ids[:3]):
        ids[row, :n[row]], mask[row, :n[row]] = w, 1
    batched = scorer.probabilities(ids, mask)
    for row in range(3):
        alone = scorer.probabilities(ids[row:row + 1, :n[row]], mask[row:row + 1, :n[row]])
        assert np.array_equal(batched[row, :n[row]], alone[0])


def test_fp32_export_matches_torch_and_attention_matmuls_stay_float(model_dir, tmp_path, test_set):
    windows, _ = test_set
    onnx_path = export_fp32(model_dir, tmp_path / "fp32")
    ids = np.array([windows.input_ids[0]])
    mask = np.ones_like(ids)
    torch_probs = TorchScorer(PiiModel.load(model_dir).token_model).probabilities(ids, mask)
    assert np.allclose(OnnxScorer(onnx_path).probabilities(ids, mask), torch_probs, atol=1e-5)
    nodes = set(float_nodes(onnx_path, QuantizationChoice(keep_float=())))
    assert nodes and all("attention" in n and "MatMul" in n for n in nodes)  # scores and context, no weights
    default = set(float_nodes(onnx_path, QuantizationChoice()))
    assert default - nodes == {"/token_model/bert/embeddings/position_embeddings/Gather",
                               "/token_model/bert/embeddings/token_type_embeddings/Gather"}
    extra = set(float_nodes(onnx_path, QuantizationChoice(keep_float=("classifier",))))
    assert extra - nodes == {"/token_model/classifier/MatMul"}


class Shifted:
    """A scorer that moves every token predicted as one of ``tags`` to O (a 'lossy quantization')."""

    def __init__(self, base, tags):
        self.base, self.tags, self.id2label = base, list(tags), base.id2label

    def probabilities(self, input_ids, attention_mask):
        probs = self.base.probabilities(input_ids, attention_mask).copy()
        hit = np.isin(probs.argmax(-1), self.tags)
        probs[hit, 0] = probs[hit].max(-1) + 1.0
        return probs / probs.sum(-1, keepdims=True)


class Oracle:
    """Gold tags as probabilities: a perfect model on the windows it was built from."""

    def __init__(self, windows, n_tags):
        self.rows = {tuple(ids.tolist()): labels for ids, labels in zip(windows.input_ids, windows.labels)}
        self.id2label, self.n = DEFAULT.id2label(), n_tags

    def probabilities(self, input_ids, attention_mask):
        out = np.full(input_ids.shape + (self.n,), 1e-4)
        for row, ids in enumerate(input_ids):
            labels = self.rows[tuple(ids[attention_mask[row] == 1].tolist())]
            out[row, np.arange(len(labels)), np.where(labels < 0, 0, labels)] = 1.0
        out[attention_mask == 0, 0] = 1.0
        return out / out.sum(-1, keepdims=True)


def test_parity_is_perfect_for_identical_models_and_names_the_spans_that_differ(test_set):
    windows, gold = test_set
    oracle = Oracle(windows, len(DEFAULT.iob2_labels()))
    same = parity(oracle, oracle, windows, gold, pad_id=0)
    assert same.agreement == 1.0 and same.micro_f1_drop_points == 0 and not same.differing_spans
    assert same.micro_f1_difference == (0.0, 0.0, 0.0)
    assert same.reference.micro.f1 == pytest.approx(1.0)
    email = [DEFAULT.label2id()["B-EMAIL"], DEFAULT.label2id()["I-EMAIL"]]
    lossy = parity(oracle, Shifted(oracle, email), windows, gold, pad_id=0)
    emails = sum(1 for g in gold.values() for s in g.spans if s[2] == "EMAIL")
    assert emails and lossy.agreement < 1.0 and lossy.micro_f1_drop_points > 0
    difference = lossy.micro_f1_difference  # losing every email can only lower F1, on any resample
    assert 100 * difference.point == pytest.approx(lossy.micro_f1_drop_points, abs=0.01)
    assert 0 <= difference.low <= difference.point <= difference.high
    assert lossy.summary()["micro_f1_drop_points_ci95"] == f"{100 * difference.low:.2f} to {100 * difference.high:.2f}"
    assert {d["label"] for d in lossy.differing_spans} == {"EMAIL"}
    assert all(d["found_by"] == "reference only" for d in lossy.differing_spans)
    assert len(lossy.differing_spans) == emails and not lossy.passed(0.5, 0.995)
    rows = {r["label"]: r for r in lossy.per_label_rows()}
    assert rows["EMAIL"]["candidate_f1"] == 0 and rows["EMAIL"]["differing_spans"] == emails
