"""A local stand-in for the Telegram Bot API: the end-to-end tests, the benchmarks and a person
trying the real ``urapolku run`` without Telegram talk to it.

The bot talks to it over HTTP exactly as it talks to Telegram (``TELEGRAM_API_URL`` set to
``stub.base_url``); a test plays people with :class:`FakeUser` and :class:`FakeGroup`::

    async with BotAPIStub(token=TOKEN) as stub:
        ...  # start the bot with TELEGRAM_API_URL=stub.base_url
        aino = stub.user(5001, first_name="Aino")
        await aino.send("/start")
        [welcome] = await aino.wait_for_reply()
        await aino.click("Suomi")
        await aino.wait_idle()
        assert "Tervetuloa" in aino.last_message.text

What it does like Telegram: the JSON shapes of the answers and errors (400 "message is not
modified", "chat not found", 403 for a blocked bot, 429 with ``retry_after``, 409 for a second
poller), form, multipart and JSON request bodies, ``getUpdates`` with offset confirmation and
long polling, per-chat message ids, file uploads and downloads. What it does not: entities,
inline mode, payments, pushing updates to a webhook, most of the other methods (404).

Every call is recorded (:attr:`BotAPIStub.calls`), faults can be injected
(:meth:`BotAPIStub.fail_next`, :meth:`BotAPIStub.block`) and Telegram's flood limits enforced
(``enforce_limits=True``: 30 sends a second overall, per private chat a burst of
``per_chat_burst`` then one a second, 20 a minute per group, 429 with ``retry_after`` beyond
them). A button press takes one answer, as on Telegram; when each came is kept
(:attr:`BotAPIStub.callback_answer_times`). For benchmarks it measures update-to-reply latency
(:meth:`BotAPIStub.latencies`). All times are ``time.monotonic()`` seconds.

* :mod:`.wire` — error texts, parameter types, recorded calls, stored messages and files;
* :mod:`.state` — a chat's state and the flood limits;
* :mod:`.store`, :mod:`.methods`, :mod:`.server` — the server, its methods and its data;
* :mod:`.people` — ``FakeUser`` and ``FakeGroup``;
* ``python -m bot.telegram.standin --port 8081`` serves it by hand.
"""

from bot.telegram.standin.people import FakeGroup, FakeUser
from bot.telegram.standin.server import BotAPIStub
from bot.telegram.standin.wire import (
    BLOCKED_BY_USER,
    CHAT_NOT_FOUND,
    CONFLICT_POLLER,
    CONFLICT_WEBHOOK,
    KICKED_FROM_GROUP,
    NOT_MODIFIED,
    QUERY_INVALID,
    SEND_METHODS,
    ApiCall,
    ApiError,
    StoredFile,
    StoredMessage,
    command_entities,
    describe_call,
)

__all__ = [
    "BLOCKED_BY_USER",
    "CHAT_NOT_FOUND",
    "CONFLICT_POLLER",
    "CONFLICT_WEBHOOK",
    "KICKED_FROM_GROUP",
    "NOT_MODIFIED",
    "QUERY_INVALID",
    "SEND_METHODS",
    "ApiCall",
    "ApiError",
    "BotAPIStub",
    "FakeGroup",
    "FakeUser",
    "StoredFile",
    "StoredMessage",
    "command_entities",
    "describe_call",
]
