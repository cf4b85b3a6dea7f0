import numpy as np
import polars as pl
import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.samples import validate
from pii_assets.training.backbone import BackboneError, load_tokenizer
from pii_assets.training.tokens import IGNORE, Aligner, WindowConfig, WindowTokenizer, sample_group, write_tokens

TAGS = DEFAULT.iob2_labels()


@pytest.fixture(scope="module")
def aligner(tiny_backbone):
    return Aligner(load_tokenizer(tiny_backbone), DEFAULT, WindowConfig(max_length=64, stride=16))


def _sample(text, spans, corefs=()):
    mask = []
    for value, label in spans:
        start = text.index(value)
        mask.append({"value": value, "label": label, "start": start, "end": start + len(value)})
    return validate({"text": text, "language": "en", "country": "US", "privacy_mask": mask,
                     "coreferences": list(corefs), "meta": {}})


def _rows(aligner, samples):
    table = aligner.encode(samples)
    return table.to_pylist()


def test_strict_iob2_multiword_entities_and_punctuation(aligner):
    text = "Call Anna Maria Schmidt-Meyer, on +49 30 901820."
    sample = _sample(text, [("Anna Maria", "FIRSTNAME"), ("Schmidt-Meyer", "SURNAME"),
                            ("+49 30 901820", "PHONENUMBER")])
    row = _rows(aligner, [sample])[0]
    assert row["labels"][0] == IGNORE and row["labels"][-1] == IGNORE  # [CLS], [SEP]
    toks = [(s, e, TAGS[l]) for s, e, l in zip(row["token_start"], row["token_end"], row["labels"])
            if l != IGNORE]

    def tags(start, end):  # tags of the tokens inside text[start:end], in order
        return [tag for s, e, tag in toks if start <= s and e <= end]

    assert set(tags(0, 4)) == {"O"}                                   # "Call"
    assert tags(29, 30) == ["O"] and tags(len(text) - 1, len(text)) == ["O"]  # "," and "."
    first = tags(5, 15)                                               # "Anna Maria"
    assert first[0] == "B-FIRSTNAME" and set(first[1:]) == {"I-FIRSTNAME"} and len(first) >= 2
    surname = tags(16, 29)                                            # "Schmidt-Meyer"
    assert surname[0] == "B-SURNAME" and set(surname[1:]) == {"I-SURNAME"} and len(surname) >= 3
    phone = tags(34, 47)
    assert phone[0] == "B-PHONENUMBER" and set(phone[1:]) == {"I-PHONENUMBER"} and len(phone) >= 3


def _decode_spans(row):
    """Character spans from B/I token labels (what an evaluator does)."""
    spans, current = [], None
    for s, e, label in zip(row["token_start"], row["token_end"], row["labels"]):
        tag = TAGS[label] if label != IGNORE else "O"
        if tag.startswith("B-") or tag == "O" or (current and tag[2:] != current[2]):
            if current:
                spans.append(tuple(current))
            current = [s, e, tag[2:]] if tag != "O" else None
        else:
            current[1] = e
    if current:
        spans.append(tuple(current))
    return spans


def test_generated_spans_round_trip_through_token_labels(aligner, corpus):
    rows = _rows(aligner, corpus[:200])
    by_sample = {}
    for row in rows:
        by_sample.setdefault(row["sample_id"], []).append(row)
    exact = total = 0
    for sample in corpus[:200]:
        decoded = set()
        for row in by_sample[sample["id"]]:
            decoded.update(_decode_spans(row))
        for span in sample["privacy_mask"]:
            total += 1
            exact += (span["start"], span["end"], span["label"]) in decoded
    assert total > 500 and exact / total > 0.97  # the rest: spans split by a window edge


def test_long_text_is_windowed_not_truncated(aligner):
    words = [f"word{i}" for i in range(3000)]
    text = " ".join(words) + " contact Anna at anna@example.com"
    sample = _sample(text, [("Anna", "FIRSTNAME"), ("anna@example.com", "EMAIL")])
    rows = _rows(aligner, [sample])
    assert len(rows) > 50 and [r["window"] for r in rows] == list(range(len(rows)))
    assert all(len(r["input_ids"]) <= 64 for r in rows)
    covered = set()
    for r in rows:
        covered.update((s, e) for s, e, l in zip(r["token_start"], r["token_end"], r["labels"]) if l != IGNORE)
    assert max(e for _, e in covered) == len(text)
    assert min(s for s, _ in covered) == 0
    last = rows[-1]
    assert {TAGS[l] for l in last["labels"] if l != IGNORE} >= {"B-FIRSTNAME", "B-EMAIL"}
    # consecutive windows overlap by the stride
    assert rows[1]["token_start"][1] < rows[0]["token_end"][-2]


def test_coreference_ids_per_token(aligner):
    text = "Anna Schmidt called. She wants the customer file."
    sample = _sample(text, [("Anna", "FIRSTNAME"), ("Schmidt", "SURNAME")], [
        {"cluster_id": 0, "entity_type": "person", "mentions": [
            {"text": "Anna Schmidt", "start": 0, "end": 12, "type": "name",
             "privacy_mask_labels": ["FIRSTNAME", "SURNAME"]},
            {"text": "She", "start": 21, "end": 24, "type": "pronoun", "privacy_mask_labels": []}]}])
    row = _rows(aligner, [sample])[0]
    coref = [(s, e, c) for s, e, c in zip(row["token_start"], row["token_end"], row["coref"]) if c != IGNORE]
    assert {c for s, e, c in coref if e <= 12} == {1}          # "Anna Schmidt"
    assert {c for s, e, c in coref if 13 <= s and e <= 19} == {0}  # "called"
    assert {c for s, e, c in coref if 21 <= s and e <= 24} == {1}  # "She"
    assert row["coref"][0] == IGNORE and row["labels"][0] == IGNORE


def test_write_tokens_parquet_and_stats(aligner, corpus, tmp_path):
    path = tmp_path / "tokens.parquet"
    stats = write_tokens(iter(corpus[:300]), path, aligner, chunk_size=128)
    df = pl.read_parquet(path)
    assert df.height == stats.windows and df["sample_id"].n_unique() == stats.samples == 300
    assert set(df.columns) == {"sample_id", "window", "language", "group", "input_ids", "labels", "coref",
                               "token_start", "token_end"}
    assert 0.05 < stats.non_o_ratio < 0.6
    assert sum(stats.per_label.values()) == stats.non_o
    lengths = df["input_ids"].list.len()
    assert (lengths == df["labels"].list.len()).all() and lengths.max() <= 64
    labels = np.concatenate(df["labels"].to_list())
    assert set(np.unique(labels)) <= set(range(len(TAGS))) | {IGNORE}


def test_write_tokens_is_the_chunk_by_chunk_table(aligner, corpus, tmp_path):
    """Tokenizing the next chunk in a thread changes nothing: same rows, same order, as encode()."""
    chunks = [corpus[:100], corpus[100:130], corpus[130:131]]
    pipelined = list(aligner.encode_chunks(iter(chunks)))
    assert [chunk for chunk, _ in pipelined] == chunks
    assert all(table.equals(aligner.encode(chunk)) for chunk, (_, table) in zip(chunks, pipelined))
    write_tokens(iter(corpus[:131]), tmp_path / "t.parquet", aligner, chunk_size=100)
    assert pl.read_parquet(tmp_path / "t.parquet").equals(
        pl.concat([pl.from_arrow(table) for _, table in pipelined]))
    assert list(aligner.encode_chunks([])) == []


def test_sample_group_keeps_near_duplicates_together(corpus):
    s = corpus[0]
    twin = {**s, "id": "x", "meta": {**s["meta"], "templates": list(reversed(s["meta"]["templates"]))}}
    assert sample_group(s) == sample_group(twin)
    assert sample_group({**s, "meta": {"group": "import:ai4privacy"}}) == "import:ai4privacy"


@pytest.mark.parametrize("template", ["[CLS] $A [SEP]", "[CLS] $A", "$A [SEP] [SEP]", None])
def test_windows_are_transformers_overflowing_windows(tiny_backbone, corpus, tmp_path, template):
    """Cut by numpy from whole-text encodings, token for token what Rust's truncation with a stride
    makes, whatever special tokens the post-processor puts around a text."""
    from tokenizers import Tokenizer, processors

    tk = Tokenizer.from_file(f"{tiny_backbone}/tokenizer.json")
    specials = [(t, tk.token_to_id(t)) for t in ("[CLS]", "[SEP]")]
    tk.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials) if template else None
    tk.save(str(tmp_path / "tokenizer.json"))
    texts = ["", "a", "word " * 60, "word " * 61, "word " * 62, "x" * 3000, corpus[0]["text"] * 3]
    for config in (WindowConfig(64, 16), WindowConfig(8, 2), WindowConfig(32, 0)):
        windows = WindowTokenizer(tmp_path / "tokenizer.json", config)(texts)
        tk.enable_truncation(max_length=config.max_length, stride=config.stride)
        reference = [(t, w) for t, e in enumerate(tk.encode_batch(texts)) for w in (e, *e.overflowing)]
        bounds = windows.bounds
        assert len(reference) == len(windows.lengths)
        for k, (text, w) in enumerate(reference):
            tokens = slice(bounds[k], bounds[k + 1])
            assert windows.text[k] == text and windows.ids[tokens].tolist() == w.ids
            assert list(zip(windows.starts[tokens].tolist(), windows.ends[tokens].tolist())) == w.offsets
            assert windows.special[tokens].tolist() == [bool(m) for m in w.special_tokens_mask]
        assert windows.of_text(len(texts)).tolist() == [0, *np.cumsum(np.bincount(windows.text)).tolist()]


def test_bad_backbone_and_window_are_clear_errors(tmp_path):
    with pytest.raises(BackboneError, match="cannot load the tokenizer of backbone"):
        load_tokenizer(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="invalid window"):
        WindowConfig(max_length=64, stride=40)
