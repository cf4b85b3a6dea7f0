import numpy as np
import polars as pl
import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.training.backbone import load_tokenizer
from pii_assets.training.metrics import evaluate, gold_spans
from pii_assets.training.model import PiiModel, merge_windows, tokens_to_spans
from pii_assets.training.tokens import Aligner, WindowConfig
from pii_assets.training.config import TrainConfig
from pii_assets.training.train import Windows, collate, length_grouped_batches, predicted_spans, train


@pytest.fixture(scope="module")
def windows(tiny_backbone, corpus):
    aligner = Aligner(load_tokenizer(tiny_backbone), DEFAULT, WindowConfig(96, 16))
    return Windows.from_frame(pl.from_arrow(aligner.encode(corpus[:240])))


def test_length_grouped_batches_cover_everything_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 256, size=1000)
    batches = length_grouped_batches(lengths, 16, rng)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(1000)[:16]]) for _ in range(50)])
    assert spread < random_spread / 5
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < 1.1 * lengths.sum()


def test_collate_pads_dynamically_or_to_a_fixed_length(windows):
    idx = np.array([0, 1, 2])
    ids, mask, labels, coref = collate(windows, idx, pad_id=0)
    longest = max(len(windows.input_ids[i]) for i in idx)
    assert ids.shape == (3, longest) and mask.sum().item() == sum(len(windows.input_ids[i]) for i in idx)
    assert (labels[mask == 0] == -100).all() and (coref[mask == 0] == -100).all()
    assert collate(windows, idx, pad_id=0, fixed_length=128)[0].shape == (3, 128)
    rounded = collate(windows, idx, pad_id=0, multiple_of=8)
    assert rounded[0].shape == (3, -(-longest // 8) * 8) and rounded[1].sum() == mask.sum()


def test_gold_labels_through_the_prediction_path_score_perfectly(windows, corpus):
    oracle = [(np.where(l < 0, 0, l), np.ones(len(l))) for l in windows.labels]
    gold = gold_spans(corpus[:240])
    spans = predicted_spans(windows, oracle, DEFAULT.id2label(), gold)
    report = evaluate((g.language, g.spans, [s for s, _ in spans.get(sid, [])]) for sid, g in gold.items())
    assert report.micro.f1 > 0.99 and report.masking.f(2.0) > 0.99


def test_merge_windows_prefers_the_window_with_more_context():
    a = (np.array([0, 5, 10]), np.array([4, 9, 14]), np.array([1, 2, 0]), np.array([.9, .8, .7]))
    b = (np.array([5, 10, 15]), np.array([9, 14, 19]), np.array([0, 3, 0]), np.array([.6, .5, .4]))
    merged = merge_windows([a, b])
    assert [(s, p) for s, _, p, _ in merged] == [(0, 1), (5, 2), (10, 3), (15, 0)]


def decode_pieces(pieces: list[tuple[str, str]], o_prob: float = 0.9, tag_prob: float = 0.9):
    """Text and its decoded spans from (piece, tag) pairs; a piece with tag "" is not a token."""
    label2id, text, tokens = DEFAULT.label2id(), "", []
    for piece, tag in pieces:
        if tag:
            tokens.append((len(text), len(text) + len(piece), label2id[tag], o_prob if tag == "O" else tag_prob))
        text += piece
    return text, tokens_to_spans(tokens, DEFAULT.id2label(), text)


def test_a_value_is_not_split_at_its_punctuation_or_its_spaces():
    """Same-label spans merge inside one whitespace-free run and across spaces; across a comma,
    a line break or another label they do not."""
    pieces = [("pw", "O"), (" ", ""), ("o02KN", "B-PASSWORD"), ("=", "O"), ("qX_l", "B-PASSWORD"),
              ("!@", "I-PASSWORD"), ("rL5", "I-PASSWORD"), (" ", ""), ("and", "O"), (" ", ""),
              ("Anna", "B-FIRSTNAME"), ("  ", ""), ("Maria", "B-FIRSTNAME"), (",", "O"), (" ", ""),
              ("Anna", "B-FIRSTNAME"), ("-", "B-FIRSTNAME"), ("Lena", "I-FIRSTNAME"), ("\n", ""),
              ("Jo", "B-FIRSTNAME"), (" ", ""), ("x", "B-USERNAME"), ("=", "O"), ("5", "B-ZIP")]
    text, spans = decode_pieces(pieces, tag_prob=0.5)
    assert [(text[s:e], label) for (s, e, label), _ in spans] == [
        ("o02KN=qX_l!@rL5", "PASSWORD"), ("Anna  Maria", "FIRSTNAME"), ("Anna-Lena", "FIRSTNAME"),
        ("Jo", "FIRSTNAME"), ("x", "USERNAME"), ("5", "ZIP")]
    assert all(score == 0.5 for _, score in spans)  # the O token inside a merged value does not count


def test_a_value_does_not_cross_a_line_break():
    """The model's I- tags across a line break give one span per line; no character it tagged
    is dropped."""
    pieces = [("geb", "O"), ("=", "O"), ("21/03/2000", "B-DATEOFBIRTH"), (" \n ", ""), ("3", "I-DATEOFBIRTH"),
              (" ", ""), ("x", "O")]
    text, spans = decode_pieces(pieces)
    assert [(text[s:e], label) for (s, e, label), _ in spans] == [("21/03/2000", "DATEOFBIRTH"), ("3", "DATEOFBIRTH")]


def test_e_mails_and_urls_do_not_end_in_sentence_punctuation_and_punctuation_is_no_value():
    pieces = [("mail", "O"), (" ", ""), ("a@b", "B-EMAIL"), (".", "I-EMAIL"), ("it", "I-EMAIL"), (".", "I-EMAIL"),
              (" ", ""), ("see", "O"), (" ", ""), ("https://x.org/a_(b)", "B-URL"), (" ", ""), ("(", "B-PHONENUMBER"),
              ("https://x.org/c", "B-URL"), ("),", "I-URL"), (" ", ""), ("ok", "O")]
    text, spans = decode_pieces(pieces)
    assert [text[s:e] for (s, e, _), _ in spans] == ["a@b.it", "https://x.org/a_(b)", "https://x.org/c"]


def test_punctuation_a_token_shares_with_a_value_leaves_the_value():
    """What a token that holds a value and the punctuation next to it (SentencePiece's ``▁Christian,``)
    gives: names, dates, numbers and codes start and end with a letter, digit or apostrophe; places,
    companies and phone numbers keep periods and paired brackets, not a trailing comma or a lone
    bracket; neither keeps a ``key=`` before it."""
    pieces = [("von", "O"), (" ", ""), ("(Christian,", "B-FIRSTNAME"), (" ", ""), ("'s Gravesande", "B-SURNAME"),
              (" ", ""), ("833555844.", "B-SSN"), (" ", ""), ("Acme S.A.S.", "B-COMPANYNAME"), (" ", ""),
              ("(", "B-FIRSTNAME"), (" ", ""), ("Dowergstr.", "B-STREET"), (" ", ""), ("(Groningen)", "B-STATE"),
              (" ", ""), ("Delden,", "B-CITY"), (" ", ""), ("(030) 1234", "B-PHONENUMBER"), (" ", ""),
              ("Nederland (NL)", "B-COUNTRY"), (" ", ""), ("(Utrecht", "B-STATE"), (";", "O"), (" ", ""),
              ("pays=France", "B-COUNTRY"), (" ", ""), ("sanitaria=80380391630491560892", "B-SSN")]
    text, spans = decode_pieces(pieces)
    assert [(text[s:e], label) for (s, e, label), _ in spans] == [
        ("Christian", "FIRSTNAME"), ("'s Gravesande", "SURNAME"), ("833555844", "SSN"),
        ("Acme S.A.S.", "COMPANYNAME"), ("Dowergstr.", "STREET"), ("Groningen", "STATE"), ("Delden", "CITY"),
        ("(030) 1234", "PHONENUMBER"), ("Nederland (NL)", "COUNTRY"), ("Utrecht", "STATE"), ("France", "COUNTRY"),
        ("80380391630491560892", "SSN")]


def test_a_username_covers_its_whole_identifier():
    """A span of a label written without spaces widens over letters and digits joined by . _ -,
    and swallows what the model tagged inside it."""
    pieces = [("von", "O"), (" ", ""), ("monja", "B-USERNAME"), (".", "I-USERNAME"), ("kallert", "O"),
              (":", "O"), (" ", ""), ("piergiorgio", "B-USERNAME"), (".", "O"), ("fornaciari", "B-FIRSTNAME"),
              (" ", ""), ("lidija", "B-FIRSTNAME"), (".", "B-USERNAME"), ("kreusel", "I-USERNAME"), (".", "O"),
              (" ", ""), ("Anna", "B-FIRSTNAME"), (".", "O")]
    text, spans = decode_pieces(pieces)
    assert [(text[s:e], label) for (s, e, label), _ in spans] == [
        ("monja.kallert", "USERNAME"), ("piergiorgio.fornaciari", "USERNAME"), ("lidija.kreusel", "USERNAME"),
        ("Anna", "FIRSTNAME")]


def test_decoded_spans_are_ordered_disjoint_values_on_random_tags():
    """Whatever the model tags, the decoding rules together give sorted, non-overlapping spans
    inside the text, each with a letter or digit and on one line."""
    rng = np.random.default_rng(0)
    id2label = DEFAULT.id2label()
    alphabet = list("ab1.-_@/:() \n\u00e9\u4e2d")
    for _ in range(300):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(1, 60))))
        tokens, i = [], 0
        while i < len(text):  # tokens: runs of 1-3 non-space characters
            if text[i].isspace():
                i += 1
                continue
            j = i + 1
            while j < len(text) and j - i < int(rng.integers(1, 4)) and not text[j].isspace():
                j += 1
            tokens.append((i, j, int(rng.integers(0, len(id2label))), float(rng.random())))
            i = j
        spans = tokens_to_spans(tokens, id2label, text)
        bounds = [(s, e) for (s, e, _), _ in spans]
        assert bounds == sorted(bounds)
        assert all(0 <= s < e <= len(text) for s, e in bounds)
        assert all(e <= s2 for (_, e), (s2, _) in zip(bounds, bounds[1:]))
        assert all(any(c.isalnum() for c in text[s:e]) and "\n" not in text[s:e] for s, e in bounds)
        assert all(0 <= score <= 1 for _, score in spans)


def test_a_word_takes_the_tag_of_its_first_token():
    """Subword tokens of one word (letters or digits on both sides of the seam) get its first
    token's tag; a seam at punctuation or a space is a word boundary."""
    label2id = DEFAULT.label2id()
    text = "Teun Boudewijns; login hella.zahn via Mme Dupont4"
    pieces = [(0, 4, "B-FIRSTNAME"), (5, 10, "B-SURNAME"), (10, 15, "O"), (15, 16, "O"), (17, 22, "O"),
              (23, 28, "B-USERNAME"), (28, 29, "I-USERNAME"), (29, 31, "I-USERNAME"), (31, 33, "O"),
              (34, 37, "O"), (38, 41, "O"), (42, 44, "O"), (44, 48, "B-SURNAME"), (48, 49, "I-SURNAME")]
    assert "".join(text[s:e] for s, e, _ in pieces) == text.replace(" ", "")
    tokens = [(s, e, label2id[tag], 0.9 if tag == "O" else 0.6) for s, e, tag in pieces]
    spans = tokens_to_spans(tokens, DEFAULT.id2label(), text)
    # "Dupont4": the word starts with an O token, so it is not a value (no span starts mid-word)
    assert [(text[s:e], label) for (s, e, label), _ in spans] == [
        ("Teun", "FIRSTNAME"), ("Boudewijns", "SURNAME"), ("hella.zahn", "USERNAME")]
    assert [score for _, score in spans] == pytest.approx([0.6] * 3)  # only the tokens the model tagged count


def test_training_lowers_the_loss_and_restores_the_best_weights(tiny_backbone, windows, corpus):
    tokenizer = load_tokenizer(tiny_backbone)
    model = PiiModel.from_backbone(tiny_backbone, DEFAULT, 3)
    n = len(windows)
    split = int(n * 0.8)
    train_w = Windows(*(getattr(windows, f)[:split] for f in Windows.__dataclass_fields__))
    val_w = Windows(*(getattr(windows, f)[split:] for f in Windows.__dataclass_fields__))
    val_ids = set(val_w.sample_id)
    gold = {k: v for k, v in gold_spans(corpus[:240]).items() if k in val_ids}
    logs = []
    result = train(model, train_w, val_w, gold, tokenizer.pad_token_id,
                   TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3, patience=10, evals_per_epoch=2),
                   log=logs.append)
    assert result.history[-1]["loss"] < result.history[0]["loss"] * 0.7
    assert any("val_macro_f1=" in line for line in logs)
    progress = [line for line in logs if line.startswith("step ")]
    assert progress and all("loss=" in line and "windows/s" in line and "min to go" in line for line in progress)
    assert result.best_step > 0 and result.windows_per_second > 0


def test_viterbi_repairs_invalid_iob2_and_sensitivity_shifts_o():
    from pii_assets.training.model import transition_mask, viterbi

    id2label = DEFAULT.id2label()
    ids = {v: k for k, v in id2label.items()}
    allowed = transition_mask(id2label)
    probs = np.full((4, len(id2label)), 1e-4)
    probs[0, 0] = 0.9
    probs[1, ids["I-EMAIL"]], probs[1, ids["B-EMAIL"]] = 0.6, 0.35   # argmax would start with I-
    probs[2, ids["I-EMAIL"]] = 0.9
    probs[3, 0], probs[3, ids["B-CITY"]] = 0.6, 0.4
    probs /= probs.sum(axis=1, keepdims=True)
    assert [id2label[t] for t in viterbi(probs, allowed)] == ["O", "B-EMAIL", "I-EMAIL", "O"]
    assert [id2label[t] for t in viterbi(probs, allowed, o_weight=1 / 9)][3] == "B-CITY"
    assert not allowed[ids["O"], ids["I-CITY"]] and not allowed[ids["B-EMAIL"], ids["I-CITY"]]
    assert allowed[ids["B-CITY"], ids["I-CITY"]] and allowed[ids["I-CITY"], ids["B-ZIP"]]


def test_decoder_scores_a_token_by_its_label_not_its_b_or_i_tag():
    from pii_assets.training.model import Decoder

    id2label = DEFAULT.id2label()
    ids = {v: k for k, v in id2label.items()}
    probs = np.full((3, len(id2label)), 1e-4)
    probs[0, 0] = 0.9                                                  # O
    probs[1, ids["I-DATEOFBIRTH"]], probs[1, ids["B-DATEOFBIRTH"]] = 0.8, 0.15  # sure of the label
    probs[2, ids["B-CITY"]], probs[2, ids["I-CITY"]], probs[2, 0] = 0.5, 0.1, 0.4
    probs /= probs.sum(axis=1, keepdims=True)
    tags, scores = Decoder(id2label)(probs)
    assert [id2label[t] for t in tags] == ["O", "B-DATEOFBIRTH", "B-CITY"]  # I- may not follow O
    expected = [probs[0, 0], probs[1, ids["B-DATEOFBIRTH"]] + probs[1, ids["I-DATEOFBIRTH"]],
                probs[2, ids["B-CITY"]] + probs[2, ids["I-CITY"]]]
    np.testing.assert_allclose(scores, expected)
    assert scores[1] > 0.9

def test_dropout_overrides_reach_the_encoder_and_the_heads(tiny_backbone):
    from torch import nn

    own = PiiModel.from_backbone(tiny_backbone, DEFAULT, 3)
    model = PiiModel.from_backbone(tiny_backbone, DEFAULT, 3, dropout=0.0, head_dropout=0.2)
    assert own.token_model.config.attention_probs_dropout_prob > 0 and own.dropout.p > 0
    config = model.token_model.config
    assert config.attention_probs_dropout_prob == 0.0 and config.hidden_dropout_prob == 0.0
    assert config.classifier_dropout == 0.2
    heads = {id(model.dropout), id(model.token_model.dropout)}  # before the coreference / PII head
    assert all(m.p == 0.2 for m in model.modules() if id(m) in heads)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, nn.Dropout) and id(m) not in heads)
    assert [m.dropout_prob for m in model.modules() if hasattr(m, "dropout_prob")]  # SDPA attention
    assert all(m.dropout_prob == 0.0 for m in model.modules() if hasattr(m, "dropout_prob"))
    assert config.num_labels == len(DEFAULT.iob2_labels())


def test_precision_choice(monkeypatch):
    import torch

    from pii_assets.training.model import device_and_dtype

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for amx, avx512_bf16 in ((True, False), (False, True)):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        assert device_and_dtype() == (torch.device("cpu"), None)  # inference: fp32 on a CPU
        assert device_and_dtype("auto", cpu_bf16=True)[1] == torch.bfloat16
        assert device_and_dtype("fp32", cpu_bf16=True)[1] is None
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert device_and_dtype("auto", cpu_bf16=True)[1] is None  # bf16 is emulated elsewhere
    assert device_and_dtype("bf16")[1] == torch.bfloat16
    with pytest.raises(ValueError, match="precision 'fp8'"):
        device_and_dtype("fp8")


def test_bf16_attention_is_computed_in_fp32_and_returned_in_bf16():
    import torch
    from torch.overrides import TorchFunctionMode

    from pii_assets.training.model import Fp32Attention

    sdpa = torch.nn.functional.scaled_dot_product_attention
    seen = []

    class Spy(TorchFunctionMode):  # below Fp32Attention: sees the call it makes
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is sdpa:
                seen.append([a.dtype for a in (*args, *(kwargs or {}).values()) if isinstance(a, torch.Tensor)])
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 16, 8, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    mask = torch.zeros(2, 1, 16, 16, dtype=torch.bfloat16)
    mask[..., 12:] = float("-inf")  # padding
    with torch.autocast("cpu", dtype=torch.bfloat16), Spy(), Fp32Attention():
        out = sdpa(q, k, v, attn_mask=mask)
    assert seen == [[torch.float32] * 4]
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, sdpa(q.float(), k.float(), v.float(), attn_mask=mask.float()).bfloat16())
    out.float().sum().backward()
    assert q.grad.dtype == torch.bfloat16 and q.grad.abs().sum() > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_runs_in_each_precision(tiny_backbone, windows, precision, monkeypatch):
    import torch

    import pii_assets.training.train as train_module

    if precision == "fp16":  # what a GPU without bf16 gets: autocast fp16 + loss scaling
        monkeypatch.setattr(train_module, "device_and_dtype", lambda *a, **k: (torch.device("cpu"), torch.float16))
    tokenizer = load_tokenizer(tiny_backbone)
    model = PiiModel.from_backbone(tiny_backbone, DEFAULT, 3, dropout=0.0, head_dropout=0.1)
    sub = Windows(*(getattr(windows, f)[:32] for f in Windows.__dataclass_fields__))
    empty = Windows([], [], [], [], [], [])
    logs = []
    result = train(model, sub, empty, {}, tokenizer.pad_token_id,
                   TrainConfig(epochs=2, batch_size=8, learning_rate=3e-3,
                               precision="bf16" if precision == "bf16" else "fp32"), log=logs.append)
    assert f"({ {'bf16': 'bfloat16', 'fp16': 'float16'}.get(precision, 'fp32') })" in logs[0]
    assert result.steps == 8 and result.history[-1]["loss"] < result.history[0]["loss"]
    assert all(p.dtype.is_floating_point and p.dtype != __import__("torch").bfloat16 for p in model.parameters())
