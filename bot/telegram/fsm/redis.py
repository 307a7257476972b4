"""The conversation in progress in Redis (``REDIS_URL``, several workers), encrypted.

aiogram's :class:`~aiogram.fsm.storage.redis.RedisStorage` keeps each conversation's data as
JSON; here that JSON is encrypted with ``DATA_KEY`` (:mod:`db.types`), as the database keeps
it, so Redis, its memory dumps and its replicas never hold what people wrote in clear.

A value written before encryption was switched on (plain JSON) is still read, and is written
back encrypted at the person's next step; ``urapolku rekey`` encrypts the rest, and
re-encrypts values under an older key with the newest one (:func:`rekey_redis`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage

from db import types as crypto

#: set KEYS[1] to ARGV[2] only if it still holds ARGV[1]: a conversation that moved on while
#: its value was being re-encrypted keeps its newer value
_SWAP: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""


def _loads(text: str) -> Any:
    if text.startswith(crypto.TOKEN_PREFIX):
        return crypto.decrypt_json(text)
    return json.loads(text)  # written before the state was encrypted


def redis_storage(url: str) -> RedisStorage:
    """The bot's conversation storage on Redis: no expiry, data encrypted."""
    return RedisStorage.from_url(
        url,
        state_ttl=None,
        data_ttl=None,
        json_dumps=crypto.encrypt_json,
        json_loads=_loads,
    )


@dataclass(frozen=True, slots=True)
class RedisRekeyCount:
    #: conversation values found
    values: int
    #: encrypted (they were plain JSON) or re-encrypted with the newest key now
    changed: int


async def rekey_redis(url: str) -> RedisRekeyCount:
    """Every conversation value in Redis encrypted with the newest key."""
    storage = redis_storage(url)
    builder = storage.key_builder
    assert isinstance(builder, DefaultKeyBuilder)
    pattern = builder.separator.join((builder.prefix, "*", "data"))
    ring = crypto.keyring()
    values = changed = 0
    try:
        swap = storage.redis.register_script(_SWAP)
        async for key in storage.redis.scan_iter(match=pattern, count=500):
            raw = await storage.redis.get(key)
            if raw is None:
                continue
            values += 1
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            if not text.startswith(crypto.TOKEN_PREFIX):
                new = ring.encrypt(text)
            elif ring.is_newest(text):
                continue
            else:
                new = ring.rotate(text)
            changed += int(await swap(keys=[key], args=[raw, new]))
    finally:
        await storage.close()
    return RedisRekeyCount(values, changed)
