"""The app's words for the engine's messages: these name the command line's flags, the app its fields."""

from __future__ import annotations

import re

# A flag as the engine's messages write it: --finetune-epochs, --no-rewind; not inside a path or a word.
FLAG = re.compile(r"(?<![\w/.-])--(?:no-)?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def as_fields(text: str) -> str:
    """`text` with each flag as the field that sets it in the app ("--finetune-epochs" → "finetune epochs"): the
    form's labels and the Sweep and Sensitivity screens' (sparsities, seeds, amounts) are the flags' names."""
    return FLAG.sub(lambda match: match.group(1).replace("-", " "), text)
