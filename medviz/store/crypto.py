"""Encryption at rest for case text with Fernet (``cryptography``), keyed by ``MEDVIZ_ENCRYPTION_KEY``.

The variable holds one or more Fernet keys separated by commas: the first encrypts, all decrypt
(rotation via MultiFernet). Generate one with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``.
Without the variable, case text is stored in clear and the rows say so (``encrypted = false``).
"""
from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from medviz.errors import MedvizError

ENV_KEY = "MEDVIZ_ENCRYPTION_KEY"


class EncryptionError(MedvizError):
    """The encryption key is missing, malformed, or does not open a stored value."""


def cipher() -> MultiFernet | None:
    raw = os.environ.get(ENV_KEY, "").strip()
    if not raw:
        return None
    keys = []
    for i, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            keys.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise EncryptionError(
                f"{ENV_KEY}: key {i + 1} is not a Fernet key (expected 32 url-safe base64-encoded bytes, 44 characters)"
            ) from None
    return MultiFernet(keys) if keys else None


def seal(plaintext: str) -> tuple[bytes, bool]:
    """(stored bytes, encrypted?) for a text value."""
    c = cipher()
    data = plaintext.encode("utf-8")
    return (c.encrypt(data), True) if c is not None else (data, False)


def unseal(stored: bytes, encrypted: bool) -> str:
    if not encrypted:
        return bytes(stored).decode("utf-8")
    c = cipher()
    if c is None:
        raise EncryptionError(f"this case is encrypted; set {ENV_KEY} to the key it was saved with to read it")
    try:
        return c.decrypt(bytes(stored)).decode("utf-8")
    except InvalidToken:
        raise EncryptionError(f"{ENV_KEY} does not open this case (it was saved with a different key)") from None
