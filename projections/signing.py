"""Signed checkpoints over the audit chain: Ed25519 keys, the cadence, and the checkpoint's bytes.

The private key lives only with the processes that project the chain (a file or the
environment, never the database); auditors need the public key alone. A checkpoint signs the
previous checkpoint's hash, its own number and position, the chain's head there, the number of
events up to it, and the cadence it follows, so checkpoints chain like the events do and a
missing one shows. Signatures are deterministic (Ed25519), so signing the same history again
gives the same checkpoints.
"""
import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "linli-checkpoint/1"
SIGNED = ("format", "context", "seq", "previous", "position", "head", "events", "every_events", "every_seconds")


@dataclass(frozen=True)
class Cadence:
    """A checkpoint is due at the event that makes `events` since the last one, or that comes
    `seconds` or more after the first event since the last one."""

    events: int = 1000
    seconds: int = 300


@dataclass(frozen=True)
class AuditKeys:
    private: Ed25519PrivateKey | None = None  # only in processes that sign
    public: Ed25519PublicKey | None = None  # enough to verify
    cadence: Cadence = Cadence()
    witness: Path | None = None  # where a signer keeps the newest checkpoint it saw, outside the database


def generate() -> tuple[bytes, bytes]:
    """A new pair as PEM: (private PKCS#8, public SubjectPublicKeyInfo)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private, public_pem(key.public_key())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(text: str | bytes) -> Ed25519PrivateKey:
    """PEM (PKCS#8), or the base64 of the 32 raw private bytes (handier in an environment variable)."""
    data = text.encode() if isinstance(text, str) else text
    if data.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(data, validate=True))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the audit key must be an Ed25519 private key")
    return key


def load_public(text: str | bytes) -> Ed25519PublicKey:
    data = text.encode() if isinstance(text, str) else text
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the audit public key must be an Ed25519 key")
    return key


def payload(checkpoint: dict) -> bytes:
    """The signed bytes: canonical JSON of the signed fields."""
    return json.dumps({k: checkpoint[k] for k in SIGNED}, sort_keys=True, separators=(",", ":")).encode()


def digest(checkpoint: dict) -> str:
    return hashlib.sha256(payload(checkpoint)).hexdigest()


def seal(key: Ed25519PrivateKey, fields: dict) -> dict:
    """The checkpoint with its hash and signature."""
    checkpoint = {"format": FORMAT, **fields}
    return {**checkpoint, "hash": digest(checkpoint), "signature": key.sign(payload(checkpoint)).hex()}


def well_signed(key: Ed25519PublicKey, checkpoint: dict) -> bool:
    try:
        key.verify(bytes.fromhex(checkpoint["signature"]), payload(checkpoint))
    except (InvalidSignature, ValueError):
        return False
    return True
