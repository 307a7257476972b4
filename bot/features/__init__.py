"""Implementations of the actions dialogs can call. :func:`build_registry` lists them all."""

from __future__ import annotations

from bot.engine.actions import ActionRegistry
from bot.features.consent import actions as consent
from bot.features.events import actions as events
from bot.features.followup import actions as followup
from bot.features.handoff import actions as handoff
from bot.features.privacy import actions as privacy


def build_registry() -> ActionRegistry:
    registry = ActionRegistry()
    consent.register(registry)
    handoff.register(registry)
    events.register(registry)
    followup.register(registry)
    privacy.register(registry)
    return registry
