"""Talking to the real Dispatcher without Telegram.

:class:`OfflineSession` is an aiogram session that answers Bot API calls itself, with the
shapes Telegram returns (and Telegram's own complaints, such as 400 "message is not
modified"), and records every call. :class:`ChatClient` plays a person: it builds real
``Update`` objects and feeds them to the dispatcher. The terminal chat and the tests use both.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    CopyMessage,
    CreateForumTopic,
    DeleteForumTopic,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetChat,
    GetMe,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    AcceptedGiftTypes,
    BufferedInputFile,
    CallbackQuery,
    Chat,
    ChatFullInfo,
    Document,
    ForumTopic,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageId,
    PhotoSize,
    Sticker,
    TelegramObject,
    Update,
    User,
    Voice,
)

from bot.telegram.session import answer_type

BOT_USER = User(id=7_000_000_001, is_bot=True, first_name="Urapolku", username="urapolku_bot")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _chat(chat_id: int, first_name: str = "Testi") -> Chat:
    if chat_id > 0:
        return Chat(id=chat_id, type="private", first_name=first_name)
    return Chat(id=chat_id, type="supergroup", title="Group")


def deprecated_parameters(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """The parameters Telegram deprecated (aiogram marks them ``deprecated``) that ``method``
    carries as the Bot API receives it (defaults resolved), in the call and in the objects it
    holds (keyboards, reply parameters …): ``{"reply_markup.…": value}``. Telegram keeps
    reading most of them for now; the bot uses none."""
    found: dict[str, Any] = {}

    def visit(value: Any, path: str) -> None:
        if isinstance(value, TelegramObject | TelegramMethod):
            for name, info in type(value).model_fields.items():
                field_value = getattr(value, name)
                if isinstance(field_value, Default):
                    field_value = bot.default[field_value.name]
                extra = info.json_schema_extra
                if isinstance(extra, dict) and extra.get("deprecated") and field_value is not None:
                    found[f"{path}{name}"] = field_value
                visit(field_value, f"{path}{name}.")
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item, path)

    visit(method, "")
    return found


@dataclass
class SentFile:
    chat_id: int
    filename: str
    content: bytes


class OfflineSession(BaseSession):
    """Answers Bot API calls locally; ``fail_next`` makes the next call of a method (that
    matches ``when``, if given) raise."""

    def __init__(self, bot_user: User = BOT_USER) -> None:
        super().__init__()
        self.bot_user = bot_user
        self.calls: list[TelegramMethod[Any]] = []
        self.messages: dict[tuple[int, int], Message] = {}
        self.files: list[SentFile] = []
        self.listeners: list[Callable[[TelegramMethod[Any], Any], None]] = []
        self._ids: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._failures: list[
            tuple[
                type[TelegramMethod[Any]],
                Callable[[TelegramMethod[Any]], Exception],
                Callable[[Any], bool] | None,
            ]
        ] = []
        #: supergroups that are forums (getChat says is_forum); their topics by thread id
        self.forums: set[int] = set()
        self.topics: dict[tuple[int, int], str] = {}

    def fail_next(
        self,
        method: type[TelegramMethod[Any]],
        error: Callable[[TelegramMethod[Any]], Exception],
        *,
        when: Callable[[Any], bool] | None = None,
    ) -> None:
        self._failures.append((method, error, when))

    def calls_of(self, method: type[TelegramMethod[Any]]) -> list[Any]:
        return [c for c in self.calls if isinstance(c, method)]

    async def close(self) -> None:
        return None

    def stream_content(  # pragma: no cover
        self, *args: Any, **kwargs: Any
    ) -> Any:
        raise NotImplementedError("no files to download offline")

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        self.calls.append(method)
        for i, (kind, error, when) in enumerate(self._failures):
            if isinstance(method, kind) and (when is None or when(method)):
                del self._failures[i]
                raise error(method)
        result = self._answer(method)
        for listener in self.listeners:
            listener(method, result)
        return result  # type: ignore[no-any-return]

    def new_message(self, chat_id: int, **fields: Any) -> Message:
        message_id = next(self._ids[chat_id])
        message = Message(message_id=message_id, date=_now(), chat=_chat(chat_id), **fields)
        self.messages[(chat_id, message_id)] = message
        return message

    def _answer(self, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return self.bot_user
        if isinstance(method, SendMessage):
            thread = method.message_thread_id
            return self.new_message(
                int(method.chat_id),
                from_user=self.bot_user,
                text=method.text,
                # like Telegram: a message carries only an inline keyboard (not ForceReply)
                reply_markup=(
                    method.reply_markup
                    if isinstance(method.reply_markup, InlineKeyboardMarkup)
                    else None
                ),
                **({"message_thread_id": thread, "is_topic_message": True} if thread else {}),
            )
        if isinstance(method, GetChat):
            chat_id = int(method.chat_id)
            return ChatFullInfo(
                id=chat_id,
                type="private" if chat_id > 0 else "supergroup",
                is_forum=chat_id in self.forums or None,
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types=AcceptedGiftTypes(
                    unlimited_gifts=False,
                    limited_gifts=False,
                    unique_gifts=False,
                    premium_subscription=False,
                    gifts_from_channels=False,
                ),
            )
        if isinstance(method, CreateForumTopic):
            chat_id = int(method.chat_id)
            if chat_id not in self.forums:
                raise TelegramBadRequest(
                    method=method, message="Bad Request: the chat is not a forum"
                )
            thread_id = next(self._ids[chat_id])
            self.topics[(chat_id, thread_id)] = method.name
            return ForumTopic(message_thread_id=thread_id, name=method.name, icon_color=0x6FB9F0)
        if isinstance(method, EditMessageText | EditMessageReplyMarkup):
            key = (int(method.chat_id or 0), int(method.message_id or 0))
            current = self.messages.get(key)
            if current is None:
                raise TelegramBadRequest(
                    method=method, message="Bad Request: message to edit not found"
                )
            if isinstance(method, EditMessageText) and current.text is None:
                raise TelegramBadRequest(
                    method=method, message="Bad Request: there is no text in the message to edit"
                )
            text = method.text if isinstance(method, EditMessageText) else current.text
            markup = method.reply_markup
            old_markup = current.reply_markup.model_dump() if current.reply_markup else None
            new_markup = markup.model_dump() if isinstance(markup, InlineKeyboardMarkup) else None
            if text == current.text and old_markup == new_markup:
                raise TelegramBadRequest(method=method, message=NOT_MODIFIED)
            updated = current.model_copy(update={"text": text, "reply_markup": markup})
            self.messages[key] = updated
            return updated
        if isinstance(method, SendDocument):
            document = method.document
            name = document.filename if isinstance(document, BufferedInputFile) else "file"
            data = document.data if isinstance(document, BufferedInputFile) else b""
            self.files.append(SentFile(int(method.chat_id), name or "file", data))
            return self.new_message(
                int(method.chat_id),
                from_user=self.bot_user,
                caption=method.caption,
                document=Document(
                    file_id=f"doc{len(self.files)}",
                    file_unique_id=f"u{len(self.files)}",
                    file_name=name,
                ),
            )
        if isinstance(method, CopyMessage):
            thread = method.message_thread_id
            copy = self.new_message(
                int(method.chat_id),
                from_user=self.bot_user,
                caption=method.caption,
                **({"message_thread_id": thread, "is_topic_message": True} if thread else {}),
            )
            return MessageId(message_id=copy.message_id)
        if isinstance(method, DeleteMessage):
            if self.messages.pop((int(method.chat_id), method.message_id), None) is None:
                raise TelegramBadRequest(
                    method=method, message="Bad Request: message to delete not found"
                )
            return True
        if isinstance(method, DeleteForumTopic):
            chat_id = int(method.chat_id)
            if self.topics.pop((chat_id, method.message_thread_id), None) is None:
                raise TelegramBadRequest(method=method, message="Bad Request: TOPIC_ID_INVALID")
            for key, message in list(self.messages.items()):
                if key[0] == chat_id and message.message_thread_id == method.message_thread_id:
                    del self.messages[key]
            return True
        if isinstance(method, EditMessageCaption):
            key = (int(method.chat_id or 0), int(method.message_id or 0))
            current = self.messages.get(key)
            if current is None or current.caption is None:
                raise TelegramBadRequest(
                    method=method,
                    message="Bad Request: there is no caption in the message to edit"
                    if current is not None
                    else "Bad Request: message to edit not found",
                )
            updated = current.model_copy(update={"caption": method.caption})
            self.messages[key] = updated
            return updated
        if isinstance(method, AnswerCallbackQuery):
            return True
        returning = answer_type(method)
        if returning is bool:
            return True
        raise NotImplementedError(f"the offline session does not know {type(method).__name__}")


@dataclass
class ChatClient:
    """A person (or a group member) talking to the bot through the real dispatcher."""

    dispatcher: Dispatcher
    bot: Bot
    session: OfflineSession
    user_id: int = 1001
    first_name: str = "Testi"
    language_code: str | None = "fi"
    chat_id: int | None = None
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def user(self) -> User:
        return User(
            id=self.user_id,
            is_bot=False,
            first_name=self.first_name,
            language_code=self.language_code,
        )

    @property
    def chat(self) -> Chat:
        chat_id = self.chat_id if self.chat_id is not None else self.user_id
        return (
            Chat(id=chat_id, type="private", first_name=self.first_name)
            if chat_id > 0
            else _chat(chat_id)
        )

    # -- what a person does --------------------------------------------------------------

    async def send(
        self, text: str, *, reply_to: Message | None = None, thread_id: int | None = None
    ) -> list[Any]:
        """Write ``text`` (optionally as a reply to ``reply_to``, or in forum topic
        ``thread_id``)."""
        entities = None
        if text.startswith("/"):
            length = len(text.split()[0])
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        return await self._message(
            text=text, entities=entities, **self._placement(reply_to, thread_id)
        )

    async def send_document(
        self,
        filename: str = "cv.pdf",
        *,
        caption: str | None = None,
        reply_to: Message | None = None,
        thread_id: int | None = None,
    ) -> list[Any]:
        document = Document(file_id=f"doc-{filename}", file_unique_id=filename, file_name=filename)
        return await self._message(
            document=document, caption=caption, **self._placement(reply_to, thread_id)
        )

    @staticmethod
    def _placement(reply_to: Message | None, thread_id: int | None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        if thread_id is not None:
            fields["message_thread_id"] = thread_id
            fields["is_topic_message"] = True
        return fields

    async def send_sticker(self) -> list[Any]:
        sticker = Sticker(
            file_id="st1",
            file_unique_id="st1",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
        )
        return await self._message(sticker=sticker)

    async def send_photo(
        self,
        *,
        caption: str | None = None,
        reply_to: Message | None = None,
        thread_id: int | None = None,
    ) -> list[Any]:
        return await self._message(
            photo=[PhotoSize(file_id="ph1", file_unique_id="ph1", width=10, height=10)],
            caption=caption,
            **self._placement(reply_to, thread_id),
        )

    async def send_voice(self) -> list[Any]:
        return await self._message(voice=Voice(file_id="v1", file_unique_id="v1", duration=3))

    async def edit(self, message_id: int, text: str) -> list[Any]:
        message = Message(
            message_id=message_id,
            date=_now(),
            edit_date=int(_now().timestamp()),
            chat=self.chat,
            from_user=self.user,
            text=text,
        )
        return await self.feed(Update(update_id=next(self.update_ids), edited_message=message))

    async def click(self, label: str) -> list[Any]:
        """Press the button whose text is ``label`` (or contains it) on the newest keyboard."""
        message = self.keyboard_message()
        if message is None or not isinstance(message.reply_markup, InlineKeyboardMarkup):
            raise AssertionError("there is no keyboard to press")
        buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
        found = [b for b in buttons if b.text == label] or [b for b in buttons if label in b.text]
        if len(found) != 1:
            raise AssertionError(
                f"no single button {label!r}; there are {[b.text for b in buttons]}"
            )
        return await self.press(found[0].callback_data or "", message)

    async def press(self, data: str, message: Message | None = None) -> list[Any]:
        """Send a callback with any data, from any message (possibly an old or forged one)."""
        if message is None:
            message = self.keyboard_message() or self.session.new_message(self.chat.id, text="?")
        query = CallbackQuery(
            id=str(next(self.update_ids) * 7919),
            from_user=self.user,
            chat_instance="ci",
            message=message,
            data=data,
        )
        return await self.feed(Update(update_id=next(self.update_ids), callback_query=query))

    async def feed(self, update: Update) -> list[Any]:
        """Feed one update; return the Bot API calls it caused."""
        start = len(self.session.calls)
        await self.dispatcher.feed_update(self.bot, update)
        return self.session.calls[start:]

    async def _message(self, **fields: Any) -> list[Any]:
        message = Message(
            message_id=10_000 + next(self.update_ids),
            date=_now(),
            chat=self.chat,
            from_user=self.user,
            **fields,
        )
        return await self.feed(Update(update_id=next(self.update_ids), message=message))

    # -- what a person sees --------------------------------------------------------------

    def messages(self) -> list[Message]:
        chat_id = self.chat.id
        return [m for (c, _), m in sorted(self.session.messages.items()) if c == chat_id]

    def keyboard_message(self) -> Message | None:
        for message in reversed(self.messages()):
            if (
                isinstance(message.reply_markup, InlineKeyboardMarkup)
                and message.reply_markup.inline_keyboard
            ):
                return message
        return None

    @property
    def buttons(self) -> list[str]:
        message = self.keyboard_message()
        if message is None or not isinstance(message.reply_markup, InlineKeyboardMarkup):
            return []
        return [b.text for row in message.reply_markup.inline_keyboard for b in row]

    @property
    def last_text(self) -> str:
        messages = self.messages()
        return (messages[-1].text or messages[-1].caption or "") if messages else ""
