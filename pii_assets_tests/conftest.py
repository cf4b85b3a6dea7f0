"""Shared fixtures: a tiny locally-built backbone (WordPiece tokenizer + 2-layer BERT) and a real
Label Studio server (own virtualenv .venv-labelstudio, made by `make labelstudio-venv`; a fresh data
dir, a free loopback port, a legacy API token), started once per session when a test asks for it."""

import os
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
