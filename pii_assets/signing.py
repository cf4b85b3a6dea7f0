"""Ed25519 signatures over SHA-256 digests of every file of model directories.

A signature file is JSON: ``{"format", "algorithm", "payload", "signature"}``. The payload names
the release, the hash of the data manifest it was trained on, and for each signed directory
(``quantized_model``, ``trained_model``) the digest of every file in it (relative POSIX paths).
The signature is over the payload's canonical JSON bytes (sorted keys, no spaces), so the
payload cannot change without the signature failing, and a directory verifies only if it holds
exactly the files listed, byte for byte.

Keys: an unencrypted PKCS#8 PEM private key (``pii-assets keygen`` writes one, mode 0600) or,
in an environment variable, that PEM or the base64 of the raw 32-byte seed. Public keys are
SubjectPublicKeyInfo PEM.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pii_assets.storage import sha256_file

FORMAT = "pii-assets-signature/1"
ALGORITHM = "ed25519"


class SigningError(Exception):
    """A key that cannot be used, or a signature file that cannot be read."""


def directory_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``directory``, by relative POSIX path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SigningError(f"{directory}: not a directory")
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise SigningError(f"{path}: symbolic links are not signed; copy the file instead")
        if path.is_file():
            out[path.relative_to(directory).as_posix()] = sha256_file(path)
    return out


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- keys -------------------------------------------------------------------------------------

def generate_key(path: Path) -> Path:
    """Write a new private key to ``path`` (mode 0600, never overwriting) and its public key beside
    it as ``<path>.pub``; returns the public key's path."""
    path = Path(path)
    if path.exists():
        raise SigningError(f"{path} exists; refusing to overwrite a signing key")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = path.with_name(path.name + ".pub")
    public.write_bytes(public_pem(key))
    return public


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def private_key_from_text(text: str, source: str) -> Ed25519PrivateKey:
    """A private key from PEM text or the base64 of its raw 32-byte seed (``source`` names where it
    came from in errors; the key itself never appears in a message)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{source}: not an unencrypted Ed25519 private key "
                           f"(PEM or base64 of the 32-byte seed): {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{source}: the key is not an Ed25519 key")
    return key


def private_key_from_file(path: Path) -> Ed25519PrivateKey:
    path = Path(path)
    if not path.is_file():
        raise SigningError(f"signing key file {path} does not exist (create one with `pii-assets keygen`)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningError(f"signing key file {path} is readable by others (mode {mode:04o}); "
                           f"run `chmod 600 {path}`")
    return private_key_from_text(path.read_text(encoding="ascii", errors="replace"), str(path))


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningError(f"{path}: cannot read an Ed25519 public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path}: the key is not an Ed25519 public key")
    return key


# --- sign / verify ----------------------------------------------------------------------------

def sign(key: Ed25519PrivateKey, directories: dict[str, Path], release: str, data_manifest_sha256: str) -> dict:
    """The signature document for ``directories`` (entry name -> path)."""
    payload = {
        "release": release,
        "data_manifest_sha256": data_manifest_sha256,
        "public_key_sha256": hashlib.sha256(public_pem(key)).hexdigest(),
        "directories": {name: {"files": directory_digests(path)} for name, path in sorted(directories.items())},
    }
    return {"format": FORMAT, "algorithm": ALGORITHM, "payload": payload,
            "signature": base64.b64encode(key.sign(canonical(payload))).decode("ascii")}


@dataclass
class Verification:
    entry: str
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_signature(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SigningError(f"{path}: cannot read the signature file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("algorithm") != ALGORITHM:
        raise SigningError(f"{path}: not a {FORMAT} {ALGORITHM} signature file")
    return document


HUB_FILES = ("README.md", ".gitattributes", "signature.json", "signing_key.pub", ".cache/huggingface/*")
"""What a Hub repo of a published model holds besides the signed files: the model card, the Hub's
own .gitattributes, the signature and public key, and huggingface_hub's download metadata."""


def verify(directory: Path, document: dict, public_key: Ed25519PublicKey, entry: str | None = None,
           ignore: tuple[str, ...] = ()) -> Verification:
    """Check the signature, then that ``directory`` holds exactly the files of its entry.

    ``entry`` defaults to the entry named like the directory, or the only entry there is.
    Unsigned files matching an ``ignore`` pattern (e.g. ``HUB_FILES``) are not reported as added;
    a signed file must match whatever its name.
    """
    payload = document["payload"]
    try:
        public_key.verify(base64.b64decode(document["signature"]), canonical(payload))
    except (InvalidSignature, ValueError):
        return Verification(entry or "?", problems=[
            "the signature does not verify with this public key (wrong key, or the signature file was edited)"])
    entries = payload["directories"]
    if entry is None:
        entry = Path(directory).name if Path(directory).name in entries else (
            next(iter(entries)) if len(entries) == 1 else None)
        if entry is None:
            return Verification("?", problems=[f"cannot tell which signed directory {directory} is; "
                                               f"pass one of {sorted(entries)}"])
    if entry not in entries:
        return Verification(entry, problems=[f"the signature has no directory {entry!r} (it has {sorted(entries)})"])
    expected = entries[entry]["files"]
    actual = {name: digest for name, digest in directory_digests(Path(directory)).items()
              if name in expected or not any(fnmatch.fnmatchcase(name, p) for p in ignore)}
    problems = [f"{name}: missing (signed, not in the directory)" for name in sorted(set(expected) - set(actual))]
    problems += [f"{name}: not signed (added to the directory)" for name in sorted(set(actual) - set(expected))]
    problems += [f"{name}: content changed (SHA-256 {actual[name][:12]}..., signed {expected[name][:12]}...)"
                 for name in sorted(set(expected) & set(actual)) if expected[name] != actual[name]]
    return Verification(entry, files=len(expected), problems=problems)
