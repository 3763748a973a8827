"""An Input that keeps a burst of keys in order."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    """Every Input of the app: keys typed faster than the app handles them edit in the order they came."""

    async def _on_key(self, event: events.Key) -> None:
        # Textual types a character at once but runs an editing key's binding (backspace, the arrows, ctrl+u) only
        # once the key has bubbled up past this input: keys that came while the app was busy (the form checks its
        # settings after each key) were applied out of order, `lenet5`, eight backspaces and `mynet.py:build`
        # reading `mynet.py:bui`. The input's own bindings run here, in the order the keys came.
        bindings = [] if event.is_printable else [self._bindings.key_to_bindings.get(key) for key in event.aliases]
        binding = next((found[0] for found in bindings if found), None)
        if binding is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        await self.run_action(binding.action)
