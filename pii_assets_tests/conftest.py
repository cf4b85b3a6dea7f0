"""Shared fixtures: a tiny locally-built backbone (WordPiece tokenizer + 2-layer BERT), a real
Label Studio server (own virtualenv .venv-labelstudio, made by `make labelstudio-venv`; a fresh data
dir, a free loopback port, a legacy API token) and a real S3 endpoint (moto_server, from the dev
extra's moto[server]), each started once per session when a test asks for it."""

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


def build_tiny_backbone(directory, texts, vocab_size=2000):
    """A cased WordPiece tokenizer trained on ``texts`` and an untrained tiny BERT, saved together."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")),
                                                 ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(directory)
    import torch

    torch.manual_seed(0)
    config = BertConfig(vocab_size=fast.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)
    BertForTokenClassification(config).save_pretrained(directory)
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
