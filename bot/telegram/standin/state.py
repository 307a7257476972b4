"""Per-chat state and Telegram's flood limits, as the stand-in enforces them."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.telegram.standin.wire import JSON, StoredMessage


class _Window:
    """A sliding window: at most ``capacity`` events per ``period`` seconds."""

    def __init__(self, rate: float, period: float) -> None:
        if rate >= 1:
            self.capacity, self.period = int(rate), period
        else:
            self.capacity, self.period = 1, period / max(rate, 1e-9)
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float | None:
        """Seconds until there is room, or None if there is room now."""
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        if len(self.times) < self.capacity:
            return None
        return self.times[0] + self.period - now


class _Bucket:
    """A short burst of ``capacity`` events, then ``rate`` a second."""

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = float(capacity)
        self.updated = now

    def wait(self, now: float) -> float | None:
        """Seconds until there is room, or None if there is room now."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            return None
        return (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class _Limits:
    def __init__(
        self,
        global_per_second: float,
        per_chat: float,
        per_group_minute: float,
        per_chat_burst: int = 1,
    ) -> None:
        self.overall = _Window(global_per_second, 1.0)
        self.per_chat = per_chat
        self.per_chat_burst = per_chat_burst
        self.per_group_minute = per_group_minute
        self.groups: dict[int, _Window] = {}
        self.chats: dict[int, _Bucket] = {}

    def admit(self, chat_id: int, now: float) -> int | None:
        """Take a slot and return None, or return the ``retry_after`` to answer."""
        group = chat = None
        if chat_id < 0:
            group = self.groups.get(chat_id)
            if group is None:
                group = self.groups[chat_id] = _Window(self.per_group_minute, 60.0)
            own = group.wait(now)
        else:
            chat = self.chats.get(chat_id)
            if chat is None:
                chat = self.chats[chat_id] = _Bucket(self.per_chat, self.per_chat_burst, now)
            own = chat.wait(now)
        waits = [w for w in (self.overall.wait(now), own) if w is not None]
        if waits:
            return max(1, math.ceil(max(waits)))
        self.overall.times.append(now)
        if group is not None:
            group.times.append(now)
        if chat is not None:
            chat.take()
        return None


@dataclass
class _Fault:
    status: int
    retry_after: int
    description: str | None


@dataclass(eq=False)
class _Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    known: bool = False  # the person wrote to the bot / the bot is in the group
    blocked: bool = False
    next_message_id: int = 1
    messages: list[StoredMessage] = field(default_factory=list)
    topics: dict[int, JSON] = field(default_factory=dict)
    last_activity: float = 0.0
    in_flight: int = 0

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data

    def full_info(self) -> JSON:
        return {
            **self.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def find(self, message_id: Any) -> StoredMessage | None:
        for message in reversed(self.messages):
            if message.message_id == message_id and not message.deleted:
                return message
        return None
