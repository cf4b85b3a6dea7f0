"""Shared fixtures: a tiny locally-built backbone (WordPiece tokenizer + 2-layer BERT)."""

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.samples import validate


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
