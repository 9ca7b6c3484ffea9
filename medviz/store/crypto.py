"""Encryption at rest for every free-text field (case text, forms, outcome reasons, "Other" diagnoses)
with Fernet (``cryptography``; AES-128-CBC + HMAC-SHA256, RFC-style tokens).

On by default. The key never lives in the database; it comes from (first found):

1. ``MEDVIZ_ENCRYPTION_KEY`` (or ``encryption_key`` in the settings file): one or more Fernet keys
   separated by commas — the first encrypts, all decrypt (rotation via ``MultiFernet``);
2. the file ``encryption_key_file`` (default ``<data_dir>/encryption.key``), same format;
3. a new key generated on first start and written to that file with mode 0600.

An operator may turn encryption off (``encryption = false`` / ``MEDVIZ_ENCRYPTION=0``): new values are
then stored in clear, rows say so (``encrypted = false``), and every page shows a banner
(:func:`medviz.ui.common.encryption_banner`). Values saved encrypted stay readable while the key is
available. Generate a key by hand with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``.
"""
from __future__ import annotations

import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from medviz.config import ConfigError, load_or_create_secret, settings
from medviz.errors import MedvizError

ENV_KEY = "MEDVIZ_ENCRYPTION_KEY"


class EncryptionError(MedvizError):
    """The encryption key is missing, malformed, or does not open a stored value."""


_ciphers: dict[str, MultiFernet] = {}
_lock = threading.Lock()


def _parse(raw: str, source: str) -> MultiFernet:
    with _lock:
        hit = _ciphers.get(raw)
    if hit is not None:
        return hit
    keys = []
    for i, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            keys.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise EncryptionError(
                f"{source}: key {i + 1} is not a Fernet key (expected 32 url-safe base64-encoded bytes, 44 characters)"
            ) from None
    if not keys:
        raise EncryptionError(f"{source} holds no key")
    cipher = MultiFernet(keys)
    with _lock:
        _ciphers[raw] = cipher
    return cipher


def key_cipher() -> MultiFernet:
    """The configured key(s), creating the key file on first use. Raises :class:`EncryptionError`."""
    cfg = settings()
    if cfg.encryption_key is not None and cfg.encryption_key.get_secret_value().strip():
        return _parse(cfg.encryption_key.get_secret_value(), ENV_KEY)
    path = cfg.encryption_key_path
    try:
        raw = load_or_create_secret(path, env_value=None, env_name=ENV_KEY,
                                    generate=lambda: Fernet.generate_key().decode("ascii"), what="encryption key")
    except ConfigError as exc:
        raise EncryptionError(str(exc)) from None
    return _parse(raw, f"encryption key file {path}")


def encryption_enabled() -> bool:
    """False only when an operator turned encryption off (then pages show a banner)."""
    return settings().encryption


def cipher() -> MultiFernet | None:
    """The cipher new values are sealed with, or None when encryption is turned off."""
    return key_cipher() if encryption_enabled() else None


def seal(plaintext: str) -> tuple[bytes, bool]:
    """(stored bytes, encrypted?) for a text value."""
    c = cipher()
    data = plaintext.encode("utf-8")
    return (c.encrypt(data), True) if c is not None else (data, False)


def unseal(stored: bytes, encrypted: bool) -> str:
    """The text of a stored value; encrypted values open with any configured key, even with encryption off."""
    if not encrypted:
        return bytes(stored).decode("utf-8")
    try:
        return key_cipher().decrypt(bytes(stored)).decode("utf-8")
    except InvalidToken:
        raise EncryptionError(
            "the configured encryption key does not open this value (it was saved with a different key; "
            f"put the old key after the new one in {ENV_KEY}, comma-separated)"
        ) from None
