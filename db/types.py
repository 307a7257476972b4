"""Encryption at rest for what people write (free-text answers, phone numbers, request details,
relayed messages, the conversation in progress): the keyring and the encrypted column types.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography``
package) before they reach the database, and decrypted when they are read, by the column types
:class:`EncryptedText` and :class:`EncryptedJSON`. The key is never in the database: the
application configures it once at startup with :func:`configure` (the bot reads ``DATA_KEY``;
in development it keeps a generated key in a file beside the database, see
:func:`load_or_create_key_file`).

Rotation: :func:`configure` takes several keys, newest first. New values are always encrypted
with the newest key; values encrypted with any of the listed keys can be read. ``urapolku
rekey`` (:mod:`db.rekey`) re-encrypts every stored value with the newest key, after which the
old keys can be dropped (see docs/SECURITY.md).

Nothing here knows about the bot: the caller passes the keys in.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

#: every Fernet token starts with the version byte 0x80, which is "gAAAAA" in base64
TOKEN_PREFIX = "gAAAAA"


class DataKeyError(Exception):
    """The data key is missing, malformed, or does not open what is stored. The message is one
    line for the operator and never contains a key or a stored value."""


_UNDECRYPTABLE = (
    "a stored value cannot be decrypted with DATA_KEY: wrong key, or the key it "
    "was written with is missing from the list"
)


class Keyring:
    """One or more Fernet keys, newest first: encrypts with the first, decrypts with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise DataKeyError("DATA_KEY is empty")
        fernets: list[Fernet] = []
        for number, key in enumerate(cleaned, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                which = "" if len(cleaned) == 1 else f" (key {number} of {len(cleaned)})"
                raise DataKeyError(
                    "DATA_KEY is not a valid key"
                    f"{which}: expected 32 bytes in url-safe base64, as printed by "
                    "`urapolku rekey --new-key`"
                ) from None
        self.size = len(fernets)
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)

    @classmethod
    def parse(cls, value: str) -> Keyring:
        """Keys separated by commas, newest first (the form of ``DATA_KEY``)."""
        return cls(value.split(","))

    def encrypt(self, plain: str) -> str:
        return self._newest.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(_UNDECRYPTABLE) from None

    def is_newest(self, token: str) -> bool:
        """The value was encrypted with the newest key (rekey leaves it alone)."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key."""
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise DataKeyError(_UNDECRYPTABLE) from None


_keyring: Keyring | None = None


def configure(keys: str | Iterable[str] | Keyring | None) -> Keyring | None:
    """Set the process's data keys (a ``DATA_KEY`` string, a list newest first, a Keyring, or
    None to forget them). Returns the keyring now in use."""
    global _keyring
    if keys is None or isinstance(keys, Keyring):
        _keyring = keys
    elif isinstance(keys, str):
        _keyring = Keyring.parse(keys)
    else:
        _keyring = Keyring(list(keys))
    return _keyring


def keyring() -> Keyring:
    """The configured keys; reading or writing personal data without them is refused."""
    if _keyring is None:
        raise DataKeyError(
            "no data key is configured (DATA_KEY); personal data can be neither written nor read"
        )
    return _keyring


def is_configured() -> bool:
    return _keyring is not None


def generate_key() -> str:
    """A new random key, in the form ``DATA_KEY`` takes."""
    return Fernet.generate_key().decode("ascii")


def encrypt(plain: str) -> str:
    return keyring().encrypt(plain)


def decrypt(token: str) -> str:
    return keyring().decrypt(token)


def encrypt_json(value: Any) -> str:
    """``value`` as compact JSON, encrypted."""
    return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def decrypt_json(token: str) -> Any:
    return json.loads(decrypt(token))


def load_or_create_key_file(path: Path) -> str:
    """The key kept in ``path``, created (mode 0600) if there is none yet: for development
    only, where no operator provides ``DATA_KEY``."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it just now
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key + "\n")
    return key


class EncryptedText(TypeDecorator[str]):
    """A string stored encrypted (as text: a Fernet token). ``None`` stays NULL.

    Ciphertext cannot be searched, compared or aggregated in SQL: only columns that are read
    back whole belong in this type.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored encrypted: the JSON text, encrypted as :class:`EncryptedText`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return encrypt_json(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        if value is None:
            return None
        return decrypt_json(value)
