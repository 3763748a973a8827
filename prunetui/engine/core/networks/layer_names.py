"""Many layer names, said shortly: ResNet-56's 56 module paths as a handful of shell-style patterns, each of which
matches exactly the layers it stands for, so a user can paste one into `--layer-sparsity`; and the stage a layer
belongs to, for tables and bars that group a deep network.

    patterns(["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2", "fc"])
    # [("conv1", 1), ("layer1.[01].conv[12]", 4), ("fc", 1)]
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Sequence

_NUMBER = re.compile(r"(\d+)")
SPELLED_OUT = 8  # up to this many names are listed one by one
BY_STAGE_FROM = 13  # a network of this many layers or more is shown by stage (ResNet-56: 56; the LeNets: 2 to 5)


def patterns(names: Sequence[str]) -> list[tuple[str, int]]:
    """(pattern, how many names it matches) covering `names` in their order: names that differ only in a number
    merge into one pattern (a `[...]` set of digits, or `*` where that matches no other name)."""
    groups: list[list[frozenset[str] | str]] = [_NUMBER.split(name) for name in names]  # numbers at odd indexes
    merged = True
    while merged:
        merged = False
        for i, group in enumerate(groups):
            for j in range(i + 1, len(groups)):
                position = _one_number_apart(group, groups[j])
                if position is not None:
                    group[position] = _numbers(group[position]) | _numbers(groups[j][position])
                    del groups[j]
                    merged = True
                    break
    result = []
    for group in groups:
        members = [name for name in names if _matches(group, name)]
        pattern = "".join(_part(part, wide=False) for part in group)
        if sorted(fnmatch.filter(names, pattern)) != sorted(members):
            pattern = "".join(_part(part, wide=True) for part in group)
        result.append((pattern, len(members)))
    return result


def said_shortly(names: Sequence[str]) -> str:
    """'conv1, layer[1-3].[0-8].conv[12] (54), layer[23].0.shortcut.0 (2), fc': every name, in patterns, for a
    one-line message; a few names are listed as they are."""
    if len(names) <= SPELLED_OUT:
        return ", ".join(names)
    return ", ".join(pattern if count == 1 else f"{pattern} ({count})" for pattern, count in patterns(names))


def stages(names: Sequence[str]) -> list[str]:
    """The stage of each name: its module path's first part ('layer3' for 'layer3.8.conv2'; a top-level layer such as
    'conv1' or 'fc' is its own stage); where one stage would hold most layers (torchvision's mobilenet_v2, vgg and
    densenet have all but the classifier under 'features'), its layers go one part deeper ('features.3'), as often
    as that holds."""
    depths = [1] * len(names)
    while True:
        found = [".".join(name.split(".")[:depth]) for name, depth in zip(names, depths, strict=True)]
        counts = Counter(found)
        biggest, count = counts.most_common(1)[0] if counts else ("", 0)
        deeper = [i for i, name in enumerate(names) if found[i] == biggest and name != biggest]
        if count <= max(len(names) // 2, 1) or not deeper:
            return found
        for i in deeper:
            depths[i] += 1


def by_stage(names: Sequence[str]) -> list[tuple[str, range]]:
    """Consecutive names of one stage (`stages`), as (stage, their indexes in `names`), in order: a deep network's
    layers in a handful of groups, e.g. ResNet-56's conv1, layer1 (18), layer2 (19), layer3 (19), fc."""
    groups: list[tuple[str, range]] = []
    for index, name in enumerate(stages(names)):
        if groups and groups[-1][0] == name:
            groups[-1] = (name, range(groups[-1][1].start, index + 1))
        else:
            groups.append((name, range(index, index + 1)))
    return groups


def _numbers(part: frozenset[str] | str) -> frozenset[str]:
    return part if isinstance(part, frozenset) else frozenset((part,))


def _one_number_apart(a: list[frozenset[str] | str], b: list[frozenset[str] | str]) -> int | None:
    """The one number position where `a` and `b` differ (every other part equal), else None."""
    if len(a) != len(b):
        return None
    differ = [k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differ) != 1 or differ[0] % 2 == 0:
        return None
    return differ[0]


def _matches(group: list[frozenset[str] | str], name: str) -> bool:
    parts = _NUMBER.split(name)
    return len(parts) == len(group) and all(p in _numbers(g) for p, g in zip(parts, group, strict=True))


def _part(part: frozenset[str] | str, *, wide: bool) -> str:
    """A text part as it is (escaped for fnmatch), a set of numbers as `[...]` if single digits, else `*`."""
    if isinstance(part, str):
        return re.sub(r"([*?\[])", r"[\1]", part)
    if wide or any(len(number) > 1 for number in part):
        return "*"
    digits = sorted(part, key=int)
    low, high = int(digits[0]), int(digits[-1])
    if len(digits) > 2 and high - low + 1 == len(digits):
        return f"[{low}-{high}]"
    return f"[{''.join(digits)}]"
