"""What every scene needs: the two terminal sizes and a way to wait for the app."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

WIDE, SMALL = (160, 48), (80, 24)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 600.0) -> None:
    """Wait for `condition`, then a little longer so the panels catch up with it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app took too long")
        await pilot.pause(0.05)
    await pilot.pause(0.3)
