"""The Bot API methods the stand-in implements, one coroutine each."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from bot.telegram.standin.store import ChatStore
from bot.telegram.standin.wire import (
    _BOT_COMMAND_NAME,
    CHAT_NOT_FOUND,
    CONFLICT_POLLER,
    CONFLICT_WEBHOOK,
    JSON,
    NOT_MODIFIED,
    QUERY_INVALID,
    ApiError,
    StoredMessage,
    Upload,
    _utf16_len,
)


class BotMethods(ChatStore):
    """The Bot API methods; :class:`BotAPIStub` routes requests to them."""

    # ------------------------------------------------------------------ methods

    async def _accept(self, params: JSON) -> bool:
        return True

    async def _get_me(self, params: JSON) -> JSON:
        return dict(self.me)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll answers 409
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        offset = params.get("offset")
        if isinstance(offset, int) and offset != 0:
            self._confirm(offset)
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool):
            timeout = min(float(timeout), self.max_long_poll)
        else:
            timeout = 0.0
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLER)
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            await self._wait_change(remaining)
        self._hand_out(batch)
        return copy.deepcopy(batch)

    def _hand_out(self, batch: list[JSON]) -> None:
        now = time.monotonic()
        for update in batch:
            update_id = update["update_id"]
            self._handed_out.add(update_id)
            chat_id = self._update_chat.get(update_id)
            if chat_id is not None:
                self._awaiting_reply.setdefault(chat_id, {})[update_id] = now
                self._chat(chat_id).last_activity = now

    async def _set_webhook(self, params: JSON) -> bool:
        url = params.get("url")
        if not url:
            self.webhook = None
            return True
        if not str(url).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, Upload)}
        if isinstance(params.get("allowed_updates"), list):
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        text = self._text(params)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "sendMessage",
            text=text,
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return message.to_json()

    async def _send_document(self, params: JSON) -> JSON:
        return self._send_file(params, "sendDocument", "document")

    async def _send_photo(self, params: JSON) -> JSON:
        return self._send_file(params, "sendPhoto", "photo")

    def _send_file(self, params: JSON, method: str, kind: str) -> JSON:
        """A document or a photo, with its caption and buttons."""
        chat = self._target(params)
        stored = self._input_file(params, kind)
        caption = self._text(params, "caption", required=False)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        if kind == "document":
            content: JSON = {"document": self._document_json(stored)}
        else:
            content = {"photo": self._photo_sizes(stored)}
        message = self._bot_message(
            chat,
            method,
            kind=kind,
            file=stored,
            caption=caption,
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
            **content,
        )
        return message.to_json()

    def _source(self, params: JSON, what: str) -> StoredMessage:
        from_chat = params.get("from_chat_id")
        source_chat = self._chats.get(from_chat) if isinstance(from_chat, int) else None
        if source_chat is None or not source_chat.known:
            raise ApiError(400, CHAT_NOT_FOUND)
        return self._message(source_chat, params, f"Bad Request: message to {what} not found")

    async def _copy_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._source(params, "copy")
        if source.kind == "service":
            raise ApiError(400, "Bad Request: message can't be copied")
        caption = source.caption
        if "caption" in params:
            caption = self._text(params, "caption", required=False)
        markup, keyboard = self._markup(params)
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._admit(chat)
        message = self._bot_message(
            chat,
            "copyMessage",
            kind=source.kind,
            text=source.text,
            entities=source.entities,
            caption=caption if source.kind != "text" else None,
            document=source.document,
            photo=source.photo,
            file=source.file,
            extra={k: v for k, v in source.extra.items() if k in ("sticker", "voice")},
            reply_markup=markup,
            reply_keyboard=keyboard,
            message_thread_id=thread,
            reply_to=reply_to,
        )
        return {"message_id": message.message_id}

    async def _forward_message(self, params: JSON) -> JSON:
        chat = self._target(params)
        source = self._source(params, "forward")
        thread = self._thread(chat, params)
        self._admit(chat)
        origin: JSON = {"type": "user", "sender_user": dict(source.sender), "date": source.date}
        if source.chat.get("type") != "private":
            origin = {"type": "chat", "sender_chat": dict(source.chat), "date": source.date}
        message = self._bot_message(
            chat,
            "forwardMessage",
            kind=source.kind,
            text=source.text,
            entities=source.entities,
            caption=source.caption,
            document=source.document,
            photo=source.photo,
            file=source.file,
            extra={
                **{k: v for k, v in source.extra.items() if k in ("sticker", "voice")},
                "forward_origin": origin,
            },
            message_thread_id=thread,
        )
        return message.to_json()

    def _edit_target(self, params: JSON) -> StoredMessage:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(params)
        message = self._message(chat, params, "Bad Request: message to edit not found")
        if not message.from_bot or message.kind == "service":
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edited(self, message: StoredMessage) -> JSON:
        message.edit_date = int(time.time())
        message.edits += 1
        self._replied(message.chat_id)
        self._emit(message, "edited")
        return message.to_json()

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._text(params)
        markup, _ = self._markup(params)
        if text == message.text and markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.reply_markup = text, markup
        return self._edited(message)

    async def _edit_message_caption(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        if message.kind not in ("document", "photo"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = self._text(params, "caption", required=False)
        markup, _ = self._markup(params)
        if caption == message.caption and markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.caption, message.reply_markup = caption, markup
        return self._edited(message)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._edit_target(params)
        markup, _ = self._markup(params)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        return self._edited(message)

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._target(params)
        message = self._message(chat, params, "Bad Request: message to delete not found")
        message.deleted = True
        if message.from_bot:
            self._emit(message, "deleted")
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callback_chat or query_id in self.callback_answers:
            raise ApiError(400, QUERY_INVALID)  # unknown, or answered already
        text = params.get("text")
        if text is not None and _utf16_len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(params)
        self.callback_answer_times[query_id] = time.monotonic()
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not _BOT_COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    async def _send_chat_action(self, params: JSON) -> bool:
        self._target(params)
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _create_forum_topic(self, params: JSON) -> JSON:
        chat = self._target(params)
        if not chat.is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(
                400,
                "Bad Request: TOPIC_TITLE_EMPTY"
                if not name
                else "Bad Request: TOPIC_TITLE_INVALID",
            )
        icon_color = params.get("icon_color") or 7322096
        topic: JSON = {
            "message_thread_id": chat.next_message_id,
            "name": name,
            "icon_color": icon_color,
        }
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        chat.topics[topic["message_thread_id"]] = topic
        self._new_message(
            chat,
            from_bot=True,
            sender=self._bot_user(),
            kind="service",
            method="createForumTopic",
            message_thread_id=topic["message_thread_id"],
            extra={"forum_topic_created": {"name": name, "icon_color": icon_color}},
        )
        return dict(topic)

    async def _get_chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or not chat.known:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat.full_info()

    async def _get_file(self, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }
