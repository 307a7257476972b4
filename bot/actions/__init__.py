"""Implementations of the actions dialogs can call. :func:`build_registry` lists them all."""

from __future__ import annotations

from bot.engine.actions import ActionRegistry
from bot.events import actions as events
from bot.followup import actions as followup
from bot.handoff import action as handoff
from bot.privacy import actions as privacy

from . import basic


def build_registry() -> ActionRegistry:
    registry = ActionRegistry()
    basic.register(registry)
    handoff.register(registry)
    events.register(registry)
    followup.register(registry)
    privacy.register(registry)
    return registry
