"""The dialog runner: pure Python, no Telegram, no database.

Given the dialogs, a person's :class:`ConversationState` and one input (a button press or a
text), it returns the new state and a :class:`Turn`: the replies to send and the answers to
persist. Message, condition, action and goto steps run straight through; the runner stops at
the next step that waits for the person (choice or input) or at an end.

The same runner serves Telegram, the terminal chat and ``urapolku check``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .actions import ActionContext, ActionRegistry, ActionResult
from .loader import DialogSet
from .output import PARAGRAPH, Button, Reply, Turn, fold
from .phone import normalise_phone
from .schema import (
    ActionStep,
    ChoiceStep,
    ConditionStep,
    EndStep,
    GotoStep,
    InputStep,
    MessageStep,
    Step,
)
from .state import ConversationState
from .texts import TextCatalogue
from .words import normalise

log = logging.getLogger(__name__)

#: callback data of the engine's buttons: "q:<question tag>:<option id or one of the specials>".
#: The tag names the dialog and step, so a press on any copy of the question the person is on
#: is that answer, however many times the question was shown.
#: Buttons of the earlier form, "s:<seq>:<option>", may still be on people's screens: such a
#: press counts only on the copy sent at the current turn (``ConversationState.seq``).
CALLBACK_PREFIX = "q"
#: back, done, skip, and "switch to the easier variant of my language" (plain Finnish)
BACK, DONE, SKIP, VARIANT = "<", ">", "~", "="
_CALLBACK_RE = re.compile(
    r"^(?:q:(?P<tag>[0-9a-f]{8})|s:(?P<seq>\d{1,10})):(?P<option>[a-z0-9_]{1,32}|[<>~=])$"
)
#: answers in a row the bot did not understand before it offers the easier variant, once
MISSES_BEFORE_VARIANT = 2
VARIANT_OFFER = "engine.offer_variant"
VARIANT_BUTTON = "engine.variant_button"
MAX_AUTO_STEPS = 100
#: actions the engine itself provides (a registered action of the same name overrides it)
BUILTIN_ACTIONS = frozenset({"summary"})
MAX_HISTORY = 40
#: the word to a person whose step disappeared in a content update (live reload)
STEP_GONE = "engine.step_gone"


@functools.lru_cache(maxsize=4096)
def question_tag(dialog: str, step: str) -> str:
    """Eight hex digits that name a question (a dialog's step) in its buttons' data."""
    return hashlib.blake2b(f"{dialog}/{step}".encode(), digest_size=4).hexdigest()


@dataclass(frozen=True, slots=True)
class Press:
    """What an engine button says: the option, and the question (or, in the buttons' earlier
    form, the turn) it belongs to."""

    option: str
    tag: str | None = None
    seq: int | None = None


def pack(dialog: str, step: str, option: str) -> str:
    return f"{CALLBACK_PREFIX}:{question_tag(dialog, step)}:{option}"


def unpack(data: str) -> Press | None:
    """Parse engine callback data; None for anything malformed or forged beyond repair."""
    match = _CALLBACK_RE.match(data)
    if not match:
        return None
    seq = match["seq"]
    return Press(match["option"], match["tag"], int(seq) if seq is not None else None)


@dataclass(slots=True)
class TurnContext:
    """Who the turn is for. ``services`` is opaque to the engine and handed to actions."""

    language: str
    person_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    services: Any = None


class Engine:
    def __init__(
        self,
        dialogs: DialogSet,
        texts: TextCatalogue,
        actions: ActionRegistry,
        *,
        entry: str = "onboarding",
        home: tuple[str, str] = ("onboarding", "menu"),
    ) -> None:
        self.dialogs = dialogs
        self.texts = texts
        self.entry = entry
        self.home = home
        self.actions = actions

    # -- public API ----------------------------------------------------------------------

    async def begin(
        self,
        state: ConversationState,
        ctx: TurnContext,
        dialog: str | None = None,
        step: str | None = None,
    ) -> tuple[ConversationState, Turn]:
        """Start ``dialog`` (default: the entry dialog) at ``step`` (default: its start)."""
        state = state.clone()
        turn = Turn(left=state.position is not None)
        dialog_id = dialog or self.entry
        target = self.dialogs.get(dialog_id)
        if target is None:
            dialog_id, step_id = self.home
        else:
            step_id = step or target.start
        await self._run(state, dialog_id, step_id, turn, ctx)
        return state, turn

    async def go_home(
        self, state: ConversationState, ctx: TurnContext
    ) -> tuple[ConversationState, Turn]:
        """Leave whatever is open (keeping it resumable) and show the main menu."""
        return await self.begin(state, ctx, *self.home)

    async def current(
        self, state: ConversationState, ctx: TurnContext, *, notice: str | None = None
    ) -> tuple[ConversationState, Turn]:
        """Show the question the person is on again (or the menu if nothing is open)."""
        state = state.clone()
        turn = Turn()
        if notice is None and self._lost(state):
            notice = STEP_GONE
        if notice:
            turn.replies.append(Reply(self.t(notice, ctx)))
        step = self._waiting_step(state)
        if step is None:
            await self._recover(state, turn, ctx)
        else:
            self._ask(step, state, turn, ctx)
        return state, turn

    def ask_below(
        self, state: ConversationState, above: Reply, ctx: TurnContext
    ) -> tuple[ConversationState, Turn] | None:
        """The question the person is on, asked again below ``above`` in the message being
        replaced, as when they were first shown together: a feature's message that the
        question joined (see :func:`~.output.fold`), such as the suggestions, redrawn after
        one of its own buttons replaced it. None when no question is waiting."""
        step = self._waiting_step(state)
        if step is None:
            return None
        state = state.clone()
        turn = Turn(replies=[above])
        self._ask(step, state, turn, ctx)
        turn.replies = [replace(reply, edit=True) for reply in turn.replies]
        return state, turn

    async def press(
        self, state: ConversationState, data: str, ctx: TurnContext
    ) -> tuple[ConversationState, Turn]:
        """Handle a press of one of the engine's buttons."""
        parsed = unpack(data)
        step = self._waiting_step(state)
        if parsed is None or step is None or not self._asked(parsed, state):
            return await self.stale(state, ctx)
        return await self._answer(step, state.clone(), parsed.option, ctx, typed=False)

    async def text(
        self, state: ConversationState, text: str, ctx: TurnContext
    ) -> tuple[ConversationState, Turn]:
        """Handle typed text: an answer to an input step, a typed button label (as if pressed),
        or a stray."""
        step = self._waiting_step(state)
        if step is None:
            return await self.current(state, ctx)
        state = state.clone()
        pressed = self._typed_press(step, state, text, ctx)
        if pressed is not None:
            return await self._answer(step, state, pressed, ctx, typed=True)
        turn = Turn()
        assert state.dialog is not None
        if isinstance(step, InputStep):
            value, ok = self._validate(step, text)
            if not ok:
                state.misses += 1
                self._ask(step, state, turn, ctx, question=step.reask)
                self._offer_variant(step, state, turn, ctx)
                return state, turn
            self._save(state, turn, state.dialog, step.save_as, value)
            await self._advance(state, step.next, turn, ctx)
            return state, turn
        state.misses += 1
        turn.replies.append(Reply(self.t("engine.use_buttons", ctx)))
        self._ask(step, state, turn, ctx)
        self._offer_variant(step, state, turn, ctx)
        return state, turn

    def takes(self, state: ConversationState, text: str, language: str) -> bool:
        """Whether :meth:`text` would take ``text`` as an answer to the question the person is
        on (typed into a question that waits for typing, or a button's label or number), rather
        than point at the buttons."""
        step = self._waiting_step(state)
        if step is None:
            return False
        if isinstance(step, InputStep):
            return True
        return self._typed_press(step, state, text, TurnContext(language=language)) is not None

    async def _answer(
        self,
        step: ChoiceStep | InputStep,
        state: ConversationState,
        option: str,
        ctx: TurnContext,
        *,
        typed: bool,
    ) -> tuple[ConversationState, Turn]:
        """Take ``option`` (an option id or one of BACK, DONE, SKIP) as the answer to ``step``:
        pressed (the question's message is edited to show the answer) or typed (the person's
        own message shows it)."""
        turn = Turn()
        assert state.dialog is not None
        assert state.step is not None
        dialog_id = state.dialog

        def echo(answer: str | None) -> None:
            if not typed:
                turn.replies.append(self._echo(step, state, answer, ctx))

        if option == BACK and self._can_go_back(step, state):
            echo(None)
            if state.history:
                prev_dialog, prev_step = state.history.pop()
            else:  # the first question of what was opened from the menu: back to the menu
                prev_dialog, prev_step = self.home
            await self._run(state, prev_dialog, prev_step, turn, ctx, record=False)
            return state, turn
        if option == VARIANT and (variant := self.easier_variant(ctx.language)) is not None:
            # the question stays on the screen without its buttons, and is asked again in the
            # variant; the conversation goes on from there
            turn.replies.append(self._echo(step, state, None, ctx))
            ctx.language = turn.language = variant
            self._ask(step, state, turn, ctx)
            return state, turn
        if option == SKIP and isinstance(step, InputStep) and step.skippable:
            self._save(state, turn, dialog_id, step.save_as, None)
            echo(self.t("engine.skip", ctx))
            await self._advance(state, step.next, turn, ctx)
            return state, turn
        if not isinstance(step, ChoiceStep):
            return await self.stale(state, ctx)

        if step.multi and option == DONE:
            if len(state.selected) < step.min_selected:
                notice = self.t("engine.select_at_least", ctx, count=step.min_selected)
                if typed:
                    turn.replies.append(Reply(notice))
                    self._ask(step, state, turn, ctx)
                else:
                    turn.notice = notice
                return state, turn
            chosen = [o for o in step.options if o.id in state.selected]
            if step.save_as:
                self._save(state, turn, dialog_id, step.save_as, [o.stored_value for o in chosen])
            sep = self.t("summary.list_separator", ctx)
            echo(
                sep.join(self.texts.resolve(o.label, ctx.language, ctx.params) for o in chosen)
                or "–"
            )
            state.selected = []
            await self._advance(state, step.next, turn, ctx)
            return state, turn

        chosen_option = next((o for o in step.options if o.id == option), None)
        if chosen_option is None:
            return await self.stale(state, ctx)
        if step.multi:
            if option in state.selected:
                state.selected.remove(option)
            else:
                state.selected.append(option)
            if typed:  # no message to edit: the question again, with the boxes ticked
                self._ask(step, state, turn, ctx)
            else:
                turn.replies.append(self._render(step, state, ctx, edit=True))
            return state, turn
        if step.save_as:
            self._save(state, turn, dialog_id, step.save_as, chosen_option.stored_value)
        echo(self.texts.resolve(chosen_option.label, ctx.language, ctx.params))
        await self._advance(state, chosen_option.next or step.next, turn, ctx)
        return state, turn

    def easier_variant(self, language: str) -> str | None:
        """The variant of ``language`` written to be easier (plain Finnish for Finnish)."""
        return next((v for v in self.texts.variants if self.texts.fallbacks[v] == language), None)

    def _offer_variant(
        self, step: ChoiceStep | InputStep, state: ConversationState, turn: Turn, ctx: TurnContext
    ) -> None:
        """After answers in a row the bot did not understand, offer the easier variant of the
        person's language once: a line and a button under the question just asked."""
        if state.variant_offered or state.misses < MISSES_BEFORE_VARIANT:
            return
        variant = self.easier_variant(ctx.language)
        if variant is None:
            return
        if isinstance(step, ChoiceStep) and any(o.stored_value == variant for o in step.options):
            return  # the language question itself offers it already
        assert state.dialog is not None
        state.variant_offered = True
        question = turn.replies[-1]
        button = Button(self.t(VARIANT_BUTTON, ctx), pack(state.dialog, step.id, VARIANT))
        turn.replies[-1] = replace(
            question,
            text=question.text + PARAGRAPH + self.t(VARIANT_OFFER, ctx),
            buttons=(*question.buttons, (button,)),
        )

    async def stale(
        self, state: ConversationState, ctx: TurnContext
    ) -> tuple[ConversationState, Turn]:
        """A press on a button that asks nothing any more (another question's, an old
        version's, forged): "let's continue here" and the question the person is on. Presses
        that follow before the person answers (a burst queued while the bot restarted) get
        only the short notice: the question is already the newest thing on their screen."""
        notice = STEP_GONE if self._lost(state) else "engine.moved_on"
        if state.told == state.seq and notice != STEP_GONE:
            return state.clone(), Turn(notice=self.t(notice, ctx), notice_toast_only=True)
        new_state, turn = await self.current(state, ctx, notice=notice)
        new_state.told = new_state.seq
        turn.notice = self.t(notice, ctx)
        return new_state, turn

    def t(self, key: str, ctx: TurnContext, **params: Any) -> str:
        return self.texts.get(key, ctx.language, **{**ctx.params, **params})

    # -- internals -----------------------------------------------------------------------

    def _waiting_step(self, state: ConversationState) -> ChoiceStep | InputStep | None:
        if state.position is None:
            return None
        step = self.dialogs.step(*state.position)
        return step if isinstance(step, ChoiceStep | InputStep) else None

    @staticmethod
    def _asked(press: Press, state: ConversationState) -> bool:
        """The press is on a button of the question the person is on now (from any copy)."""
        if press.tag is not None:
            assert state.dialog is not None
            assert state.step is not None
            return press.tag == question_tag(state.dialog, state.step)
        return press.seq == state.seq

    def _lost(self, state: ConversationState) -> bool:
        """The person waits at a step the content no longer has (it was removed or renamed, or
        no longer asks anything): the next update brings them somewhere sensible, with a word."""
        return state.position is not None and self._waiting_step(state) is None

    async def _recover(self, state: ConversationState, turn: Turn, ctx: TurnContext) -> None:
        """The person is idle, or on a step that no longer exists: bring them somewhere sensible."""
        if state.dialog is not None and state.dialog in self.dialogs.dialogs:
            dialog = self.dialogs.dialogs[state.dialog]
            log.info("step %s:%s no longer exists; restarting the dialog", state.dialog, state.step)
            state.progress.pop(state.dialog, None)
            await self._run(state, dialog.id, dialog.start, turn, ctx, record=False)
        else:
            await self._run(state, *self.home, turn, ctx, record=False)

    def _save(
        self, state: ConversationState, turn: Turn, dialog: str, key: str, value: Any
    ) -> None:
        if value is None:
            state.answers.pop(key, None)
        else:
            state.answers[key] = value
        turn.answered.append((dialog, key, value))

    async def _advance(
        self, state: ConversationState, next_step: str | None, turn: Turn, ctx: TurnContext
    ) -> None:
        assert state.dialog is not None
        assert state.step is not None
        if (state.dialog, state.step) != self.home:
            state.history.append((state.dialog, state.step))
            del state.history[:-MAX_HISTORY]
        state.misses = 0
        if next_step is None:  # pragma: no cover - schema guarantees a way on
            await self._run(state, *self.home, turn, ctx, record=False)
            return
        await self._run(state, state.dialog, next_step, turn, ctx, record=False)

    async def _run(
        self,
        state: ConversationState,
        dialog_id: str,
        step_id: str,
        turn: Turn,
        ctx: TurnContext,
        *,
        record: bool = True,
    ) -> None:
        """Walk from (dialog_id, step_id) through automatic steps to the next waiting step."""
        if (
            record
            and state.position is not None
            and self._waiting_step(state) is not None
            and state.position != self.home
        ):
            state.history.append(state.position)
            del state.history[:-MAX_HISTORY]
        for _ in range(MAX_AUTO_STEPS):
            step = self.dialogs.step(dialog_id, step_id)
            if step is None:
                log.error("dialog %s has no step %s; going home", dialog_id, step_id)
                if (dialog_id, step_id) == self.home:
                    state.dialog = state.step = None
                    return
                dialog_id, step_id = self.home
                continue
            nxt = await self._execute(step, state, dialog_id, turn, ctx)
            if nxt is None:
                return
            dialog_id, step_id = nxt
        log.error(
            "more than %d automatic steps in one turn at %s:%s", MAX_AUTO_STEPS, dialog_id, step_id
        )
        state.dialog = state.step = None

    async def _execute(
        self, step: Step, state: ConversationState, dialog_id: str, turn: Turn, ctx: TurnContext
    ) -> tuple[str, str] | None:
        """Run one step; return where to go next, or None to stop and wait."""
        if isinstance(step, ChoiceStep | InputStep):
            state.dialog, state.step = dialog_id, step.id
            state.seq += 1
            state.misses = 0
            if (dialog_id, step.id) == self.home:
                state.history.clear()
            previous = state.answers.get(step.save_as) if step.save_as else None
            state.selected = (
                [
                    o.id
                    for o in step.options
                    if isinstance(previous, list) and o.stored_value in previous
                ]
                if isinstance(step, ChoiceStep) and step.multi
                else []
            )
            state.progress[dialog_id] = step.id
            self._ask(step, state, turn, ctx)
            return None
        if isinstance(step, MessageStep):
            turn.replies.append(Reply(self.texts.resolve(step.text, ctx.language, ctx.params)))
            return dialog_id, step.next
        if isinstance(step, ConditionStep):
            for branch in step.branches:
                if all(cond.holds(state.answers) for cond in branch.when):
                    return dialog_id, branch.next
            return dialog_id, step.default
        if isinstance(step, ActionStep):
            return await self._action(step, state, dialog_id, turn, ctx)
        if isinstance(step, GotoStep):
            target = self.dialogs.get(step.dialog)
            if target is None:
                return self.home
            resume_at = state.progress.get(step.dialog) if step.resume else None
            if resume_at is not None and target.step(resume_at) is None:
                resume_at = None
            return step.dialog, step.step or resume_at or target.start
        if isinstance(step, EndStep):
            if step.text is not None:
                turn.replies.append(Reply(self.texts.resolve(step.text, ctx.language, ctx.params)))
            state.progress.pop(dialog_id, None)
            turn.finished.append(dialog_id)
            if step.home:
                return self.home
            state.dialog = state.step = None
            return None
        raise AssertionError(f"unknown step kind {step!r}")  # pragma: no cover

    async def _action(
        self,
        step: ActionStep,
        state: ConversationState,
        dialog_id: str,
        turn: Turn,
        ctx: TurnContext,
    ) -> tuple[str, str] | None:
        if step.action == "summary" and "summary" not in self.actions:
            result = ActionResult(replies=[Reply(self.summary(dialog_id, state, ctx))])
        else:
            implementation = self.actions.get(step.action)
            if implementation is None:
                log.error("unknown action %s at %s:%s", step.action, dialog_id, step.id)
                return self._after_action(step, None, dialog_id)
            action_ctx = ActionContext(
                name=step.action,
                args=step.args,
                dialog=dialog_id,
                step=step.id,
                language=ctx.language,
                answers=dict(state.answers),
                person_id=ctx.person_id,
                services=ctx.services,
                t=lambda key, **params: self.t(key, ctx, **params),
            )
            result = await implementation(action_ctx)
        turn.replies.extend(result.replies)
        for key, value in result.answers.items():
            self._save(state, turn, dialog_id, key, value)
        if result.final:
            state.history.clear()
        if result.language and result.language != ctx.language:
            ctx.language = result.language
            turn.language = result.language
        if result.leave:
            state.dialog = state.step = None
            state.history.clear()
            turn.left = True
            return None
        return self._after_action(step, result.outcome, dialog_id)

    def _after_action(
        self, step: ActionStep, outcome: str | None, dialog_id: str
    ) -> tuple[str, str]:
        if outcome is not None and outcome in step.outcomes:
            return dialog_id, step.outcomes[outcome]
        if step.next is not None:
            return dialog_id, step.next
        return dialog_id, next(iter(step.outcomes.values()))

    def summary(self, dialog_id: str, state: ConversationState, ctx: TurnContext) -> str:
        """The person's answers to the labelled questions of ``dialog_id``, one per line."""
        dialog = self.dialogs.get(dialog_id)
        lines: list[str] = []
        sep = self.t("summary.list_separator", ctx)
        for step in dialog.steps if dialog else []:
            key = getattr(step, "save_as", None)
            if step.label is None or key is None or state.answers.get(key) in (None, "", []):
                continue
            value = state.answers[key]
            shown = self.display_value(step, value, ctx, sep)
            lines.append(f"• {self.texts.resolve(step.label, ctx.language)}: {shown}")
        if not lines:
            return self.t("summary.empty", ctx)
        return self.t("summary.title", ctx) + "\n" + "\n".join(lines)

    def describe_answer(self, key: str, value: Any, language: str) -> str:
        """``• label: shown value`` for any stored answer, as the person saw the question."""
        ctx = TurnContext(language=language)
        sep = self.t("summary.list_separator", ctx)
        for dialog in self.dialogs.dialogs.values():
            for step in dialog.steps:
                if getattr(step, "save_as", None) == key and step.label is not None:
                    label = self.texts.resolve(step.label, language)
                    return f"• {label}: {self.display_value(step, value, ctx, sep)}"
        shown = sep.join(map(str, value)) if isinstance(value, list) else str(value)
        return f"• {key}: {shown}"

    def display_value(self, step: Step, value: Any, ctx: TurnContext, sep: str = ", ") -> str:
        """An answer as the person saw it: option labels rather than stored values."""
        values = value if isinstance(value, list) else [value]
        if isinstance(step, ChoiceStep):
            labels = {o.stored_value: o.label for o in step.options}
            return sep.join(
                self.texts.resolve(labels[v], ctx.language) if v in labels else str(v)
                for v in values
            )
        return sep.join(str(v) for v in values)

    # -- rendering -----------------------------------------------------------------------

    def _ask(
        self,
        step: ChoiceStep | InputStep,
        state: ConversationState,
        turn: Turn,
        ctx: TurnContext,
        *,
        question: Any = None,
    ) -> None:
        """Ask ``step`` in a new message, joined with the messages of the turn just before it
        (see :func:`~.output.fold`); the state keeps what sits above the question."""
        reply, lead = fold(turn.replies, self._render(step, state, ctx, question=question))
        state.lead = lead.text if lead is not None else ""
        state.lead_buttons = lead.buttons if lead is not None else ()
        turn.replies.append(reply)

    def _render(
        self,
        step: ChoiceStep | InputStep,
        state: ConversationState,
        ctx: TurnContext,
        *,
        edit: bool = False,
        question: Any = None,
    ) -> Reply:
        text = self.texts.resolve(
            question if question is not None else step.text, ctx.language, ctx.params
        )
        assert state.dialog is not None
        if edit and state.lead:
            text = state.lead + PARAGRAPH + text
        buttons: list[Button] = []
        if isinstance(step, ChoiceStep):
            mark = self.t("engine.selected_mark", ctx)
            for option in step.options:
                label = self.texts.resolve(option.label, ctx.language, ctx.params)
                if step.multi and option.id in state.selected:
                    label = f"{mark} {label}"
                buttons.append(Button(label, pack(state.dialog, step.id, option.id)))
            if step.multi:
                done = pack(state.dialog, step.id, DONE)
                buttons.append(Button(self.t("engine.done", ctx), done))
        elif step.skippable:
            buttons.append(Button(self.t("engine.skip", ctx), pack(state.dialog, step.id, SKIP)))
        if self._can_go_back(step, state):
            buttons.append(Button(self.t("engine.back", ctx), pack(state.dialog, step.id, BACK)))
        reply = Reply.column(text, buttons, edit=edit)
        if edit and state.lead_buttons:
            return replace(reply, buttons=state.lead_buttons + reply.buttons)
        return reply

    def _echo(
        self,
        step: ChoiceStep | InputStep,
        state: ConversationState,
        answer: str | None,
        ctx: TurnContext,
    ) -> Reply:
        """The answered question, edited in place: its message's text and the answer; of the
        buttons only those of what sits above the question stay."""
        text = self.texts.resolve(step.text, ctx.language, ctx.params)
        if state.lead:
            text = state.lead + PARAGRAPH + text
        if answer is not None:
            text += PARAGRAPH + self.t("engine.answer_echo", ctx, answer=answer)
        return Reply(text, state.lead_buttons, edit=True)

    def _can_go_back(self, step: ChoiceStep | InputStep, state: ConversationState) -> bool:
        """A question has a way back unless its dialog says not, or it is the home itself, or
        the very first question (the entry dialog's start, where a new person has not chosen
        a language or agreed to anything yet): to the question before it, else to the menu."""
        if not step.back or state.position == self.home:
            return False
        if state.history:
            return True
        entry = self.dialogs.get(self.entry)
        return entry is None or state.position != (entry.id, entry.start)

    def _typed_press(
        self, step: ChoiceStep | InputStep, state: ConversationState, text: str, ctx: TurnContext
    ) -> str | None:
        """The button ``text`` names, as the option id or BACK, DONE, SKIP: a button's label
        typed out (case, spaces, emoji and punctuation aside) or, for a choice, its number."""
        typed = normalise(text)
        if not typed:
            return None
        specials: list[tuple[str, str]] = []
        if self._can_go_back(step, state):
            specials.append((BACK, "engine.back"))
        if isinstance(step, InputStep):
            if step.skippable:
                specials.append((SKIP, "engine.skip"))
            return next((o for o, key in specials if normalise(self.t(key, ctx)) == typed), None)
        # isdecimal, not isdigit ("²" is a digit int() refuses; on the text as typed, as NFKC
        # makes it "2"); short, as int() refuses thousands of digits
        number = text.strip()
        if number.isdecimal() and len(number) <= 3 and 1 <= int(number) <= len(step.options):
            return step.options[int(number) - 1].id
        for option in step.options:
            if normalise(self.texts.resolve(option.label, ctx.language, ctx.params)) == typed:
                return option.id
        if step.multi:
            specials.append((DONE, "engine.done"))
        return next((o for o, key in specials if normalise(self.t(key, ctx)) == typed), None)

    @staticmethod
    def _validate(step: InputStep, text: str) -> tuple[Any, bool]:
        rules = step.validate_
        value = text.strip()
        if not (rules.min_length <= len(value) <= rules.max_length):
            return None, False
        if rules.pattern is not None and re.fullmatch(rules.pattern, value) is None:
            return None, False
        if rules.phone and normalise_phone(value) is None:
            return None, False
        if rules.number:
            cleaned = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
            try:
                number = float(cleaned)
            except ValueError:
                return None, False
            if not math.isfinite(number):  # "nan", "inf" parse as floats
                return None, False
            if (rules.min is not None and number < rules.min) or (
                rules.max is not None and number > rules.max
            ):
                return None, False
            return (int(number) if number.is_integer() else number), True
        return value, True
