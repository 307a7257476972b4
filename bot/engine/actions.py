"""Named capabilities that dialogs call with ``kind: action``.

The engine only knows names. The bot registers implementations (recommend, handoff, …) that
may use the database or the catalogue through ``services``; an action never talks to Telegram
itself: it returns replies, which are sent after the turn has been saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .output import Reply


@dataclass(slots=True)
class ActionContext:
    name: str
    args: Mapping[str, Any]
    dialog: str
    step: str
    language: str
    answers: Mapping[str, Any]
    #: the person's stable id in our database (never a Telegram id inside the engine)
    person_id: int | None
    #: whatever the bot passes for this turn (database session, catalogue, settings, …)
    services: Any
    #: render a text key in the person's language
    t: Callable[..., str]


@dataclass(slots=True)
class ActionResult:
    replies: list[Reply] = field(default_factory=list)
    #: picks ``outcomes[outcome]`` of the action step, if given
    outcome: str | None = None
    #: answers to add or change
    answers: dict[str, Any] = field(default_factory=dict)
    #: a new language for the person from now on
    language: str | None = None
    #: the action took the conversation over (e.g. a browser with its own buttons): stop here
    #: and leave the person outside the dialogs
    leave: bool = False
    #: what was answered before is recorded for good (a figure counted, a request sent):
    #: "back" no longer leads to those questions, only to the menu
    final: bool = False


Action = Callable[[ActionContext], Awaitable[ActionResult]]


class ActionRegistry:
    """Maps action names used in dialogs to implementations."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._quiet: set[str] = set()

    def register(self, name: str, action: Action, *, quiet: bool = False) -> None:
        """``quiet``: the action never replies (``urapolku check`` counts the messages of a
        turn with it)."""
        if name in self._actions:
            raise ValueError(f"action {name!r} is registered twice")
        self._actions[name] = action
        if quiet:
            self._quiet.add(name)

    @property
    def quiet(self) -> frozenset[str]:
        """The actions that never reply."""
        return frozenset(self._quiet)

    def action(self, name: str) -> Callable[[Action], Action]:
        """Decorator form of :meth:`register`."""

        def decorator(fn: Action) -> Action:
            self.register(name, fn)
            return fn

        return decorator

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[str]:
        return iter(self._actions)

    def __len__(self) -> int:
        return len(self._actions)

    def merged(self, other: Mapping[str, Action]) -> ActionRegistry:
        registry = ActionRegistry()
        for name, fn in {**self._actions, **other}.items():
            registry.register(name, fn, quiet=name in self._quiet and name not in other)
        return registry
