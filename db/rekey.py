"""Re-encryption of stored data with the newest data key (``urapolku rekey``), and moving
answers between the plain and the encrypted column when the dialogs change which are choices.

Use inside a transaction: ``count = await rekey(session, plain_answer_keys=...)``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Base
from .types import EncryptedJSON, EncryptedText, keyring


@dataclass(slots=True)
class RekeyCount:
    """What :func:`rekey` did."""

    #: encrypted values looked at, and those re-encrypted with the newest key
    values: int = 0
    reencrypted: int = 0
    #: answers moved to plain ``value`` (choices) and to encrypted ``private_value``
    made_plain: int = 0
    made_private: int = 0


async def rekey(
    session: AsyncSession, *, plain_answer_keys: Collection[str] | None = None
) -> RekeyCount:
    """Re-encrypt every encrypted value that is not yet under the newest key, in the caller's
    transaction. With ``plain_answer_keys`` (the choice answers of the current dialogs),
    answers are also moved to the column those say: choices readable in ``value``, everything
    else encrypted in ``private_value``.

    Reads and writes the stored tokens directly (below the column types), so the values are
    never decoded more than needed and never pass through the ORM.
    """
    ring = keyring()
    count = RekeyCount()
    for table in Base.metadata.sorted_tables:
        columns = [
            c.name for c in table.columns if isinstance(c.type, EncryptedText | EncryptedJSON)
        ]
        if not columns:
            continue
        (key,) = (c.name for c in table.primary_key.columns)
        for column in columns:
            rows = await session.execute(
                text(f'SELECT "{key}", "{column}" FROM "{table.name}" WHERE "{column}" IS NOT NULL')
            )
            for row_key, token in rows.all():
                count.values += 1
                if ring.is_newest(str(token)):
                    continue
                await session.execute(
                    text(f'UPDATE "{table.name}" SET "{column}" = :token WHERE "{key}" = :key'),
                    {"token": ring.rotate(str(token)), "key": row_key},
                )
                count.reencrypted += 1
    if plain_answer_keys is not None:
        plain = frozenset(plain_answer_keys)
        rows = await session.execute(text("SELECT id, key, value, private_value FROM answers"))
        for answer_id, answer_key, value, secret in rows.all():
            if answer_key in plain and secret is not None:
                await session.execute(
                    text("UPDATE answers SET value = :v, private_value = NULL WHERE id = :id"),
                    {"v": ring.decrypt(str(secret)), "id": answer_id},
                )
                count.made_plain += 1
            elif answer_key not in plain and value is not None:
                await session.execute(
                    text("UPDATE answers SET private_value = :s, value = NULL WHERE id = :id"),
                    {"s": ring.encrypt(str(value)), "id": answer_id},
                )
                count.made_private += 1
    return count
