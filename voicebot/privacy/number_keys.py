"""Phone numbers at rest: a keyed hash to find a number, a sealed copy to dial it, never digits.

Every table row that refers to a number stores two columns instead of the number:

- ``number_hash``: HMAC-SHA256 of the E.164 number under a key derived from a master key of the
  vault keyring (context ``voicebot number lookup v1``). Equality is all the engine asks of a
  number in SQL (caps per number and day, freezes, do-not-call, reviews, erasure), and a keyed
  hash answers it without the digits; a plain hash would not do, as there are few enough numbers
  to hash them all.
- ``number_sealed``: the number under AES-256-GCM with a key derived from the same master key
  (context ``voicebot number seal v1``), as ``<master key id>.<base64 nonce+ciphertext>``, for
  the places that need the number back (the dialer dials it, an admin asks to see it). The nonce
  is random, so two rows of one number look unrelated; lookups never use this column.

The contact's other columns (name, amount, ...: the flow's variables) are sealed the same way
(``fields_sealed``), as a JSON object: they are personal data too, and only the dialer reads them.

Which key, under rotation: a row is written under the keyring's *active* master key, and its
sealed copy names that key. Lookups hash the number under *every* key of the keyring (the active
one first), as :mod:`voicebot.privacy.dnc_hash` does, so ``voicebot keys rotate`` (a new active
key, the old one kept) never loses a match: rows written before still match under the old key.
A stable lookup key (made once, stored wrapped, re-wrapped at each rotation) was the other way;
it moves the same problem one level down and adds a secret to keep beside the data. The price of
this choice is that a key can only be retired once no row uses it, so the store records every
master key that has written numbers (the ``number_keys`` table) and refuses to open with a
keyring that lacks one of them (:class:`NumberKeyMissing`) instead of silently no longer
matching do-not-call entries. An engine already running when another starts with a newer key is
caught the same way: the gate's statement asks for keys it does not know and refuses to decide
(:mod:`voicebot.compliance.queries`). ``voicebot keys rotate --retire`` keeps every key the store
still uses; rows are not re-sealed under the new key (that would hide them from engines not yet
restarted), so an old key stays in the keyring as long as rows written under it remain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voicebot.privacy.masking import mask_number
from voicebot.privacy.vault.keys import Keyring

_HASH_CONTEXT = b"voicebot number lookup v1\x00"
_SEAL_CONTEXT = b"voicebot number seal v1\x00"
_AAD = b"voicebot number v1"
_FIELDS_AAD = b"voicebot contact fields v1"
_TEXT_AAD = b"voicebot free text v1"
_NONCE_BYTES = 12

ERASED = "erased"
"""What an erased number reads as where a row outlives it (anonymised attempts)."""


class NumberKeyMissing(RuntimeError):
    """The store holds numbers under a master key the keyring does not have: refuse to work,
    since those rows (do-not-call entries among them) could no longer be matched."""


class SealedNumberError(ValueError):
    """A sealed number that cannot be opened: damaged, or under a key not in the keyring."""


@dataclass(frozen=True)
class StoredNumber:
    """The columns one number is written as (``number`` itself stays out of ``repr``)."""

    number: str = field(repr=False)
    hash: str
    sealed: str

    def columns(self) -> dict[str, str]:
        """The values for a row's ``number_hash`` and ``number_sealed`` columns."""
        return {"number_hash": self.hash, "number_sealed": self.sealed}


class NumberKeys:
    """Hashes, seals and opens numbers under the keys derived from one keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.active_id = keyring.active.key_id
        self._hash_keys = tuple(
            hmac.new(k.secret, _HASH_CONTEXT, hashlib.sha256).digest() for k in keyring.keys
        )
        self._seal_keys = {
            k.key_id: AESGCM(hmac.new(k.secret, _SEAL_CONTEXT, hashlib.sha256).digest())
            for k in keyring.keys
        }

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every master key id of the keyring, active first."""
        return self.keyring.key_ids

    def hash(self, e164: str) -> str:
        """The number's lookup hash under the active key (what new rows store)."""
        return _digest(self._hash_keys[0], e164)

    def lookup(self, e164: str) -> tuple[str, ...]:
        """The number's lookup hash under every key, active first: match rows with ``IN``."""
        return tuple(_digest(key, e164) for key in self._hash_keys)

    def seal(self, e164: str) -> str:
        """The number encrypted under the active key, for a row's ``number_sealed``."""
        return self._seal(e164.encode("ascii"), _AAD)

    def seal_fields(self, fields: Mapping[str, str]) -> str:
        """A contact's other columns, encrypted as one JSON object (``fields_sealed``)."""
        return self._seal(json.dumps(dict(fields), ensure_ascii=False).encode("utf-8"), _FIELDS_AAD)

    def open_fields(self, sealed: str) -> dict[str, str]:
        """The columns :meth:`seal_fields` sealed.

        Raises:
            SealedNumberError: damaged, or sealed under a key not in the keyring.
        """
        data = json.loads(self._open(sealed, _FIELDS_AAD).decode("utf-8"))
        return {str(k): str(v) for k, v in data.items()}

    def seal_text(self, text: str) -> str:
        """Free text someone typed about a call (an agent's note), encrypted."""
        return self._seal(text.encode("utf-8"), _TEXT_AAD)

    def open_text(self, sealed: str) -> str:
        """The text :meth:`seal_text` sealed.

        Raises:
            SealedNumberError: damaged, or sealed under a key not in the keyring.
        """
        return self._open(sealed, _TEXT_AAD).decode("utf-8")

    def _seal(self, plain: bytes, aad: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        body = self._seal_keys[self.active_id].encrypt(nonce, plain, aad)
        return f"{self.active_id}.{base64.b64encode(nonce + body).decode('ascii')}"

    def stored(self, e164: str) -> StoredNumber:
        """Hash and seal ``e164`` for a new row."""
        return StoredNumber(e164, self.hash(e164), self.seal(e164))

    def open(self, sealed: str | None) -> str:
        """The number a sealed copy holds; :data:`ERASED` for a row whose number was erased.

        Raises:
            SealedNumberError: damaged, or sealed under a key the keyring does not hold.
        """
        if sealed is None:
            return ERASED
        return self._open(sealed, _AAD).decode("ascii")

    def _open(self, sealed: str, aad: bytes) -> bytes:
        key_id, _, text = sealed.partition(".")
        aead = self._seal_keys.get(key_id)
        if aead is None:
            raise SealedNumberError(
                f"a number is sealed under master key {key_id!r}, which is not in the keyring "
                f"({', '.join(self.key_ids)})"
            )
        try:
            raw = base64.b64decode(text, validate=True)
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedNumberError(f"a sealed value under key {key_id!r} is damaged") from None

    def masked(self, sealed: str | None) -> str:
        """The number a sealed copy holds, masked for display (``138****8000``)."""
        number = self.open(sealed)
        return number if number == ERASED else mask_number(number)


def sealed_key_id(sealed: str) -> str:
    """The master key id a sealed copy names (no decryption)."""
    return sealed.partition(".")[0]


def missing_keys(used: Iterable[str], keys: NumberKeys) -> list[str]:
    """The key ids of ``used`` that ``keys`` cannot hash or open under, sorted."""
    return sorted(set(used) - set(keys.key_ids))


def _digest(key: bytes, e164: str) -> str:
    return hmac.new(key, e164.encode("ascii"), hashlib.sha256).hexdigest()
