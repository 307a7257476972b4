"""ConversationState.clone: the engine works on a copy, so the caller's state never changes."""

from __future__ import annotations

from bot.engine.state import ConversationState


def test_a_clone_is_equal_and_shares_nothing_mutable() -> None:
    state = ConversationState(
        dialog="career_plan",
        step="interests",
        answers={"situation": ["unemployed"], "wish": "oma yritys"},
        selected=["it"],
        history=[("career_plan", "situation")],
        progress={"onboarding": "consent"},
        features={"events": {"page": 2, "seen": [1, 2]}},
    )
    copy = state.clone()
    assert copy == state
    assert copy.history == [("career_plan", "situation")]  # tuples, as validated from storage
    copy.answers["situation"].append("student")
    copy.answers["new"] = 1
    copy.selected.append("x")
    copy.history.append(("a", "b"))
    copy.progress["x"] = "y"
    copy.features["events"]["seen"].append(3)
    assert state.answers == {"situation": ["unemployed"], "wish": "oma yritys"}
    assert state.selected == ["it"]
    assert state.history == [("career_plan", "situation")]
    assert state.progress == {"onboarding": "consent"}
    assert state.features == {"events": {"page": 2, "seen": [1, 2]}}
    assert state.seq == copy.seq
