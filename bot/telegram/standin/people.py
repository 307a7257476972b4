"""People and groups that talk to the bot through the stand-in: ``FakeUser``, ``FakeGroup``."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from typing import Any

from bot.telegram.standin.state import _Chat
from bot.telegram.standin.store import ChatStore
from bot.telegram.standin.wire import JSON, ApiCall, StoredMessage, command_entities, describe_call


class _ChatHandle:
    """What a test sees of one chat: the bot's messages and waiting for the bot."""

    def __init__(self, stub: ChatStore, chat_id: int) -> None:
        self.stub = stub
        self.chat_id = chat_id
        self._baseline_id = 1
        self._baseline_call = 0
        self._last_action = time.monotonic()

    @property
    def _chat(self) -> _Chat:
        return self.stub._chat(self.chat_id)

    def _acted(self) -> None:
        """Start counting the bot's answers from here."""
        self._baseline_id = self._chat.next_message_id
        self._baseline_call = len(self.stub.calls)
        self._last_action = time.monotonic()

    @property
    def messages(self) -> list[StoredMessage]:
        """All messages the bot sent to this chat (not deleted), as they are now."""
        return [
            m for m in self._chat.messages if m.from_bot and not m.deleted and m.kind != "service"
        ]

    @property
    def history(self) -> list[StoredMessage]:
        """Everything in the chat, from both sides."""
        return self.stub.chat_messages(self.chat_id)

    @property
    def last_message(self) -> StoredMessage:
        """The newest bot message, with its text after edits."""
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing to chat {self.chat_id}")
        return messages[-1]

    @property
    def buttons(self) -> list[str]:
        """The labels of the inline keyboard of the newest bot message ([] without one)."""
        messages = self.messages
        return messages[-1].buttons if messages else []

    def new_messages(self) -> list[StoredMessage]:
        """Bot messages sent since the last action here (including ones deleted since)."""
        return [
            m
            for m in self._chat.messages
            if m.from_bot and m.kind != "service" and m.message_id >= self._baseline_id
        ]

    def _calls_since_action(self) -> list[ApiCall]:
        chat = self.chat_id
        return [
            call
            for call in self.stub.calls[self._baseline_call :]
            if call.params.get("chat_id") == chat
            or self.stub._callback_chat.get(str(call.params.get("callback_query_id"))) == chat
        ]

    def _report(self) -> str:
        calls = self._calls_since_action()
        lines = [f"  {describe_call(c)}" for c in calls] or ["  (no calls for this chat)"]
        polls = self.stub.calls_of("getUpdates")
        poll_note = (
            f"last getUpdates {time.monotonic() - polls[-1].time:.1f}s ago"
            if polls
            else "the bot never called getUpdates"
        )
        return (
            "\nBot API calls for this chat since the last action:\n"
            + "\n".join(lines)
            + f"\nupdates of this chat not yet fetched: {self.stub._unfetched(self.chat_id)}, "
            + f"not yet confirmed: {self.stub._unconfirmed(self.chat_id)}; "
            + poll_note
        )

    async def wait_for_reply(self, timeout: float = 5.0, count: int = 1) -> list[StoredMessage]:  # noqa: ASYNC109
        """Wait for ``count`` new bot messages since the last action; returns all new ones."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.new_messages()
            if len(new) >= count:
                return new
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"chat {self.chat_id}: waited {timeout}s for {count} new bot message(s), "
                    f"got {len(new)}." + self._report()
                )
            await self.stub._wait_change(remaining)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has confirmed this chat's updates (a ``getUpdates`` with a later
        offset) and made no call for this chat (none in progress either) for ``quiet`` seconds.

        A bot that confirms an update only after handling it (bot/runtime/polling.py) is thereby waited
        for even while it holds a reply back for its own rate limiter; with a crowd queued (a
        full ``getUpdates`` past the oldest update in flight) that bot confirms updates once
        their effects are committed, so wait for the reply itself there (bench/burst.py)."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            chat = self._chat
            pending = self.stub._unconfirmed(self.chat_id)
            since = now - max(chat.last_activity, self._last_action)
            if self.is_idle(quiet):
                return
            if now >= deadline:
                raise TimeoutError(
                    f"chat {self.chat_id}: the bot was not idle for {quiet}s within {timeout}s."
                    + self._report()
                )
            wait = deadline - now
            if not pending and not chat.in_flight:
                wait = min(wait, quiet - since)
            await self.stub._wait_change(wait)

    def is_idle(self, quiet: float = 0.3) -> bool:
        """What :meth:`wait_idle` waits for, now: every update of this chat confirmed and no
        call for it for ``quiet`` seconds (a crowd of people can poll this cheaply)."""
        chat = self._chat
        since = time.monotonic() - max(chat.last_activity, self._last_action)
        return since >= quiet and not chat.in_flight and not self.stub._unconfirmed(self.chat_id)

    def _find_button(self, label: str) -> tuple[StoredMessage, JSON]:
        candidates = [m for m in reversed(self.messages) if m.keyboard]
        for message in candidates:
            for row in message.keyboard:
                for button in row:
                    if button.get("text") == label:
                        return message, button
        folded = label.casefold()
        tests: list[Callable[[str], bool]] = [
            lambda text: text.startswith(label),
            lambda text: label in text,
            lambda text: folded in text.casefold(),
        ]
        for test in tests:
            for message in candidates:
                matches = [b for row in message.keyboard for b in row if test(str(b.get("text")))]
                if len(matches) == 1:
                    return message, matches[0]
                if len(matches) > 1:
                    labels = [str(b.get("text")) for b in matches]
                    raise AssertionError(
                        f"{label!r} matches several buttons of message #{message.message_id}: "
                        f"{labels}"
                    )
        available = "\n".join(f"  #{m.message_id}: {m.buttons}" for m in candidates[:5])
        raise AssertionError(
            f"no button {label!r} in chat {self.chat_id}; the newest keyboards:\n"
            + (available or "  (the bot has sent no inline keyboard)")
        )

    def _click(self, user: FakeUser, label: str) -> str:
        message, button = self._find_button(label)
        data = button.get("callback_data")
        if data is None:
            actions = {k: v for k, v in button.items() if k != "text"}
            raise AssertionError(f"button {label!r} has no callback_data: {actions}")
        return self._callback(user, message, str(data))

    def _callback(self, user: FakeUser, message: StoredMessage | None, data: str) -> str:
        stub = self.stub
        query_id = str(next(stub._callback_ids))
        stub._callback_chat[query_id] = self.chat_id
        instance = (self.chat_id * 2_654_435_761 + int(stub.me["id"])) % (2**63)
        query: JSON = {
            "id": query_id,
            "from": user.json,
            "chat_instance": str(instance),
            "data": data,
        }
        if message is not None:
            query["message"] = message.to_json()
        self._chat.known = True
        stub.enqueue_update({"callback_query": query}, chat_id=self.chat_id)
        self._acted()
        return query_id

    def _post(self, user: FakeUser, *, event: str = "message", **fields: Any) -> StoredMessage:
        chat = self._chat
        chat.known = True
        message = self.stub._new_message(chat, from_bot=False, sender=user.json, **fields)
        self.stub.enqueue_update({event: message.to_json()}, chat_id=self.chat_id)
        self._acted()
        return message


class FakeUser(_ChatHandle):
    """A person in a private chat with the bot. Every action queues one update."""

    def __init__(
        self,
        stub: ChatStore,
        user_id: int,
        first_name: str = "Testi",
        language_code: str | None = "fi",
        username: str | None = None,
        last_name: str | None = None,
    ) -> None:
        super().__init__(stub, user_id)
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data

    @property
    def last_callback_answer(self) -> JSON | None:
        """The answerCallbackQuery parameters for this person's newest answered click."""
        answers = [
            params
            for query_id, params in self.stub.callback_answers.items()
            if self.stub._callback_chat.get(query_id) == self.chat_id
        ]
        return answers[-1] if answers else None

    async def send(self, text: str, *, reply_to: int | None = None) -> StoredMessage:
        """A text message; "/start payload" gets its bot_command entity."""
        return self._post(
            self,
            text=text,
            entities=command_entities(text) or None,
            reply_to=self._chat.find(reply_to) if reply_to is not None else None,
        )

    async def click(self, label: str) -> str:
        """Press a button of the newest bot message that has it; returns the query id."""
        return self._click(self, label)

    async def click_data(self, data: str, message_id: int | None = None) -> str:
        """A callback query with any data, on a given message or the newest bot message."""
        if message_id is not None:
            message = self._chat.find(message_id)
            if message is None:
                raise AssertionError(f"no message #{message_id} in chat {self.chat_id}")
        else:
            message = self.messages[-1] if self.messages else None
        return self._callback(self, message, data)

    async def send_sticker(self, emoji: str = "👍") -> StoredMessage:
        stored = self.stub._store_file(b"RIFF....WEBP", None, "image/webp", "stickers")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.file_size,
        }
        return self._post(self, kind="sticker", file=stored, extra={"sticker": sticker})

    async def send_photo(
        self, caption: str | None = None, content: bytes | None = None
    ) -> StoredMessage:
        stored = self.stub._store_file(content or _TINY_PNG, None, "image/png", "photos")
        return self._post(
            self, kind="photo", file=stored, photo=self.stub._photo_sizes(stored), caption=caption
        )

    async def send_voice(self, duration: int = 3) -> StoredMessage:
        stored = self.stub._store_file(b"OggS" + bytes(60), None, "audio/ogg", "voices")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return self._post(self, kind="voice", file=stored, extra={"voice": voice})

    async def send_document(
        self,
        name: str = "cv.pdf",
        content: bytes = b"%PDF-1.4\n%test\n",
        caption: str | None = None,
    ) -> StoredMessage:
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = self.stub._store_file(content, name, mime, "documents")
        return self._post(
            self,
            kind="document",
            file=stored,
            document=self.stub._document_json(stored),
            caption=caption,
        )

    async def edit(self, message_id: int, new_text: str) -> StoredMessage:
        """Edit one of this person's own messages (an edited_message update)."""
        message = self._chat.find(message_id)
        if message is None or message.from_bot:
            raise AssertionError(f"no own message #{message_id} to edit in chat {self.chat_id}")
        message.text = new_text
        message.entities = command_entities(new_text) or None
        message.edit_date = int(time.time())
        message.edits += 1
        self.stub.enqueue_update({"edited_message": message.to_json()}, chat_id=self.chat_id)
        self._acted()
        return message

    async def block_bot(self) -> None:
        """Block the bot: sends answer 403 from now on, and the bot gets my_chat_member."""
        self._chat.blocked = True
        self._member_update("member", {"status": "kicked", "until_date": 0})

    async def unblock_bot(self) -> None:
        self._chat.blocked = False
        self._member_update("kicked", {"status": "member"})

    def _member_update(self, old_status: str, new: JSON) -> None:
        bot = self.stub._bot_user()
        old: JSON = {"status": old_status, "user": bot}
        if old_status == "kicked":
            old["until_date"] = 0
        update = {
            "chat": self._chat.to_json(),
            "from": self.json,
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": {**new, "user": bot},
        }
        self._chat.known = True
        self.stub.enqueue_update({"my_chat_member": update}, chat_id=self.chat_id)
        self._acted()

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"


class FakeGroup(_ChatHandle):
    """A group (or forum supergroup) with the bot in it, where people post."""

    @property
    def title(self) -> str:
        return self._chat.title or ""

    @property
    def topics(self) -> dict[int, JSON]:
        return dict(self._chat.topics)

    async def send(
        self,
        user: FakeUser,
        text: str,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
    ) -> StoredMessage:
        reply = self._chat.find(reply_to) if reply_to is not None else None
        if reply_to is not None and reply is None:
            raise AssertionError(f"no message #{reply_to} to reply to in chat {self.chat_id}")
        return self._post(
            user,
            text=text,
            entities=command_entities(text) or None,
            reply_to=reply,
            message_thread_id=message_thread_id,
        )

    async def click(self, user: FakeUser, label: str) -> str:
        return self._click(user, label)

    async def click_data(self, user: FakeUser, data: str, message_id: int | None = None) -> str:
        message = self._chat.find(message_id) if message_id is not None else None
        return self._callback(user, message, data)

    def __repr__(self) -> str:
        return f"FakeGroup({self.chat_id}, {self.title!r})"


# a 1×1 PNG
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


# ---------------------------------------------------------------------- running by hand
