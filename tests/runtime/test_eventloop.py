"""The serving process's heap (bot/runtime/eventloop.py settle_heap): what start-up built is kept out
of the garbage collector's full collections, and content replaced later is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.runtime.eventloop import SERVING_GC_THRESHOLD, settle_heap


class Node:
    """Stands in for content: objects in reference cycles (only the collector frees them)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def thawed() -> Iterator[None]:
    """This test process must not stay frozen for the tests after it."""
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("thawed")
def test_again_does_nothing_in_a_process_that_never_settled() -> None:
    settle_heap(again=True)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() != SERVING_GC_THRESHOLD


@pytest.mark.usefixtures("thawed")
def test_start_up_objects_are_frozen_and_replaced_content_is_still_collected() -> None:
    content = Node()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == SERVING_GC_THRESHOLD
    old = weakref.ref(content)
    del content  # content replaced: the old one is garbage in a cycle, but frozen
    gc.collect()
    assert old() is not None  # a frozen cycle is never collected ...
    settle_heap(again=True)
    assert old() is None  # ... until the heap is settled again after the reload
    assert gc.get_freeze_count() > 0
