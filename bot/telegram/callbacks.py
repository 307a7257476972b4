"""Integers from outside (button data, command arguments) checked against the database's range.

Button data comes back from Telegram as the client sent it, and anyone can send any data: a
forged ``hf:99999999999999999999:1`` used to reach the database and fail there
(``OverflowError`` on SQLite, a data error on PostgreSQL). Every integer read from outside
goes through here first:

* callback data classes (aiogram's ``CallbackData``) add :class:`DatabaseInts`, which refuses
  any integer field outside :data:`ROW_ID_RANGE`; aiogram's filter then does not match, and the
  press is answered like any unknown or stale button (``private.py``);
* typed numbers (``/coach add <telegram id>``) use :func:`parse_int` with their column's range.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, field_validator

#: PostgreSQL's INTEGER, the type of every row id (and SQLite's integers are wider)
ROW_ID_RANGE: Final = (-(2**31), 2**31 - 1)
#: PostgreSQL's BIGINT, the type of Telegram's user and chat ids
BIG_RANGE: Final = (-(2**63), 2**63 - 1)


class DatabaseInts(BaseModel):
    """A mixin for callback data: every integer field fits the database's INTEGER.

    ``class FeedbackData(CallbackData, DatabaseInts, prefix="hf")``
    """

    @field_validator("*", mode="after")
    @classmethod
    def _within_range(cls, value: Any) -> Any:
        low, high = ROW_ID_RANGE
        if isinstance(value, int) and not low <= value <= high:
            raise ValueError("outside the database's integer range")
        return value


def parse_int(text: str, *, low: int, high: int) -> int | None:
    """``text`` as an integer within ``low``..``high``; None for anything else."""
    text = text.strip()
    if not text or len(text) > 20:  # longer cannot fit 64 bits; int() of a huge text is slow
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None
