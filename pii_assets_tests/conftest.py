"""Shared fixtures: a tiny locally-built backbone (WordPiece tokenizer + 2-layer BERT; other families
with ``build_tiny_backbone``), a real Label Studio server (own virtualenv .venv-labelstudio, made by
`make labelstudio-venv`; a fresh data dir, a free loopback port, a legacy API token) and a real S3
endpoint (moto_server, from the dev extra's moto[server]), each started once per session when a test
asks for it."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.samples import validate

REPO = Path(__file__).resolve().parents[1]


FAMILIES = ("bert", "distilbert", "deberta-v2", "roberta", "modernbert")
"""Tokenizer + architecture families a tiny backbone can be built in: WordPiece + BERT (the
default's family), WordPiece + DistilBERT (no token types), SentencePiece Unigram + DeBERTa-v2
(DeBERTa-v3's and XLM-R's tokenizer: the space before a word inside its first token), byte-level
BPE + RoBERTa, and byte-level BPE without offset trimming (the space kept, as SentencePiece) +
ModernBERT."""


def build_tiny_backbone(directory, texts, family="bert", vocab_size=2000):
    """A tokenizer of ``family`` trained on ``texts`` and an untrained 2-layer model, saved together."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    size = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
    if family in ("bert", "distilbert"):
        names = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(names.values()))
    elif family == "deberta-v2":
        names = dict(pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]", mask_token="[MASK]")
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(names.values()), unk_token="[UNK]")
    elif family in ("roberta", "modernbert"):  # byte-level BPE
        names = (dict(bos_token="<s>", pad_token="<pad>", eos_token="</s>", unk_token="<unk>", mask_token="<mask>",
                      cls_token="<s>", sep_token="</s>") if family == "roberta" else
                 dict(unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]"))
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(dict.fromkeys(names.values())),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    tok.train_from_iterator(texts, trainer)
    cls, sep = names["cls_token"], names["sep_token"]
    if family == "roberta":  # trims the space out of the offsets; ModernBERT's template keeps it
        tok.post_processor = processors.RobertaProcessing((sep, tok.token_to_id(sep)), (cls, tok.token_to_id(cls)),
                                                          add_prefix_space=False, trim_offsets=True)
    else:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))])
    inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if family in ("bert", "deberta-v2") else [])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, model_input_names=inputs, **names)
    fast.save_pretrained(directory)
    vocab = fast.vocab_size
    config = {
        "bert": lambda: transformers.BertConfig(vocab_size=vocab, max_position_embeddings=512, **size),
        "distilbert": lambda: transformers.DistilBertConfig(vocab_size=vocab, dim=64, n_layers=2, n_heads=2,
                                                            hidden_dim=128),
        "deberta-v2": lambda: transformers.DebertaV2Config(  # DeBERTa-v3's settings
            vocab_size=vocab, max_position_embeddings=512, relative_attention=True, position_buckets=64,
            pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm", share_att_key=True,
            position_biased_input=False, **size),
        "roberta": lambda: transformers.RobertaConfig(vocab_size=vocab, max_position_embeddings=514,
                                                      pad_token_id=fast.pad_token_id, **size),
        "modernbert": lambda: transformers.ModernBertConfig(
            vocab_size=vocab, pad_token_id=fast.pad_token_id, cls_token_id=fast.cls_token_id,
            sep_token_id=fast.sep_token_id, bos_token_id=fast.cls_token_id, eos_token_id=fast.sep_token_id,
            global_attn_every_n_layers=2, local_attention=16, **size),
    }[family]()
    torch.manual_seed(0)
    transformers.AutoModelForTokenClassification.from_config(config).save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="session")
def corpus():
    return [validate(s) for s in OfflineGenerator(BatchSpec("corpus", size=600, seed=21)).generate()]


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory, corpus):
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny-backbone"), [s["text"] for s in corpus])


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """A fresh Hugging Face cache and no saved or environment token (huggingface_hub would send it)."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture(scope="session")
def labelstudio_server(tmp_path_factory):
    from pii_assets.labelstudio.server import local_server

    venv = Path(os.environ.get("PII_ASSETS_LS_VENV", REPO / ".venv-labelstudio"))
    if not (venv / "bin" / "label-studio").exists():
        pytest.fail(f"no Label Studio in {venv}: run `make labelstudio-venv` (make test does)")
    with local_server(venv, tmp_path_factory.mktemp("labelstudio")) as server:
        yield {"url": server.url, "token": server.token, "email": server.email}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """The URL of a moto_server on a free loopback port (an S3 endpoint boto3 talks HTTP to)."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        pytest.skip(f"S3 tests need moto_server ({executable} missing): pip install 'moto[server]' (the dev extra)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(executable), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"moto_server did not start on {url}: {log.read_text(errors='replace')[-500:]}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


S3_TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh bucket on the session's moto_server and a client for it: ``(client, bucket)``."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, **S3_TEST_CREDENTIALS)
    bucket = f"pii-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket
