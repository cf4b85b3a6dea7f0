"""Ed25519 signatures over model directories: every tampering is caught and named."""

import base64
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from pii_assets.signing import (
    SigningError, generate_key, load_public_key, private_key_from_file, private_key_from_text, read_signature,
    sign, verify,
)


@pytest.fixture
def signed(tmp_path):
    model = tmp_path / "quantized_model"
    (model / "sub").mkdir(parents=True)
    (model / "model_quantized.onnx").write_bytes(bytes(range(256)) * 100)
    (model / "config.json").write_text('{"a": 1}')
    (model / "sub" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    trained = tmp_path / "trained_model"
    trained.mkdir()
    (trained / "model.safetensors").write_bytes(b"weights")
    public = generate_key(tmp_path / "keys" / "signing.key")
    key = private_key_from_file(tmp_path / "keys" / "signing.key")
    document = sign(key, {"quantized_model": model, "trained_model": trained}, "r1", "ab" * 32)
    (tmp_path / "signature.json").write_text(json.dumps(document))
    return model, tmp_path / "signature.json", public


def check(model, signature, public, entry=None):
    return verify(model, read_signature(signature), load_public_key(public), entry)


def test_untouched_directories_verify(signed, tmp_path):
    model, signature, public = signed
    result = check(model, signature, public)
    assert result.ok and result.entry == "quantized_model" and result.files == 3
    assert check(tmp_path / "trained_model", signature, public).ok
    payload = json.loads(signature.read_text())["payload"]
    assert payload["release"] == "r1" and payload["data_manifest_sha256"] == "ab" * 32
    assert set(payload["directories"]["quantized_model"]["files"]) == {"config.json", "model_quantized.onnx",
                                                                        "sub/vocab.txt"}


def test_one_changed_byte_names_the_file(signed):
    model, signature, public = signed
    data = bytearray((model / "model_quantized.onnx").read_bytes())
    data[1000] ^= 1
    (model / "model_quantized.onnx").write_bytes(bytes(data))
    result = check(model, signature, public)
    assert not result.ok and len(result.problems) == 1
    assert result.problems[0].startswith("model_quantized.onnx: content changed")


def test_added_removed_and_renamed_files_fail(signed):
    model, signature, public = signed
    (model / "extra.txt").write_text("x")
    assert check(model, signature, public).problems == ["extra.txt: not signed (added to the directory)"]
    (model / "extra.txt").unlink()
    (model / "sub" / "vocab.txt").unlink()
    assert check(model, signature, public).problems == ["sub/vocab.txt: missing (signed, not in the directory)"]
    (model / "sub" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assert check(model, signature, public).ok
    (model / "config.json").rename(model / "config2.json")
    problems = check(model, signature, public).problems
    assert problems == ["config.json: missing (signed, not in the directory)",
                        "config2.json: not signed (added to the directory)"]


def test_wrong_key_and_edited_signature_fail(signed, tmp_path):
    model, signature, public = signed
    other = generate_key(tmp_path / "other.key")
    assert "does not verify with this public key" in check(model, signature, other).problems[0]
    document = json.loads(signature.read_text())
    document["payload"]["release"] = "r2"  # claim another release: the signature no longer matches
    signature.write_text(json.dumps(document))
    assert "does not verify" in check(model, signature, public).problems[0]


def test_keys_never_overwritten_private_key_is_0600_and_group_readable_keys_refused(tmp_path):
    path = tmp_path / "k.pem"
    generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SigningError, match="refusing to overwrite"):
        generate_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(SigningError, match="readable by others"):
        private_key_from_file(path)
    with pytest.raises(SigningError, match="does not exist"):
        private_key_from_file(tmp_path / "missing.pem")


def test_private_key_from_env_text_pem_or_base64_seed_and_errors_hide_the_value(tmp_path):
    generate_key(tmp_path / "k.pem")
    key = private_key_from_file(tmp_path / "k.pem")
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    from_seed = private_key_from_text(base64.b64encode(seed).decode(), "$PII_ASSETS_SIGNING_KEY")
    from_pem = private_key_from_text((tmp_path / "k.pem").read_text(), "$PII_ASSETS_SIGNING_KEY")
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert from_seed.public_key().public_bytes(*raw) == key.public_key().public_bytes(*raw)
    assert from_pem.public_key().public_bytes(*raw) == key.public_key().public_bytes(*raw)
    with pytest.raises(SigningError) as err:
        private_key_from_text("c2VjcmV0LXZhbHVl", "$PII_ASSETS_SIGNING_KEY")
    assert "$PII_ASSETS_SIGNING_KEY" in str(err.value) and "c2VjcmV0LXZhbHVl" not in str(err.value)


def test_not_a_signature_file(tmp_path):
    path = tmp_path / "sig.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(SigningError, match="not a pii-assets-signature/1"):
        read_signature(path)
