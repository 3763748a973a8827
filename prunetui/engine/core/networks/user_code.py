"""`package.module:factory` or `path/to/file.py:factory`: the user's own network, as uvicorn takes an app.

The factory (a function or an nn.Module class) is called with the JSON object of --model-args as keyword arguments,
plus `in_channels` and `num_classes` where it names those parameters. Its module is imported when the network is
built (in the process that trains), never when the name is resolved.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.spec import Builder, InputShape, initialise
from prunetui.engine.core.preload import before_foreign_code
from prunetui.engine.pruning.structural import one_line

if TYPE_CHECKING:
    from torch import nn

FILE_MODULE_PREFIX = "prunetui_user_network_"  # the module name a file's code is imported under


def user_builder(spec: str, args: Mapping[str, Any]) -> Builder:
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute.isidentifier():
        raise ConfigError(f"--model {spec}: write package.module:factory or path/to/file.py:factory")

    def build(shape: InputShape, init: str) -> nn.Module:
        from torch import nn

        factory = load_factory(target, attribute)
        try:
            model = factory(**factory_arguments(factory, args, shape))
        except Exception as error:
            raise ConfigError(f"{spec} raised {one_line(error)}") from error
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module")
        return initialise(model, init)

    return build


def is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def absolute_model(name: str) -> str:
    """`path/to/file.py:factory` with the file's path made absolute (for a worker or a checkpoint read from another
    directory); any other --model as it is."""
    target, colon, attribute = name.rpartition(":")
    if colon and is_file_target(target) and not name.startswith("torchvision:"):
        return f"{Path(target).expanduser().resolve()}:{attribute}"
    return name


def load_factory(target: str, attribute: str) -> Callable[..., Any]:
    """The callable `attribute` of the module `target` (a dotted name, or a .py file's path)."""
    before_foreign_code()  # the user's code may import anything of torch's
    if is_file_target(target):
        module = _import_file(Path(target))
    else:
        if os.getcwd() not in sys.path:  # as `python -m` would: packages in the working directory are found
            sys.path.append(os.getcwd())
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as error:
            raise ConfigError(f"--model {target}:{attribute}: no module named {error.name or target}") from error
        except Exception as error:
            raise ConfigError(f"importing {target} raised {one_line(error)}") from error
    factory = getattr(module, attribute, None)
    if factory is None:
        raise ConfigError(f"{target} has no {attribute}")
    if not callable(factory):
        raise ConfigError(f"{target}:{attribute} is a {type(factory).__name__}, not a function or class")
    return factory  # type: ignore[no-any-return]


def factory_arguments(factory: Callable[..., Any], args: Mapping[str, Any], shape: InputShape) -> dict[str, Any]:
    """--model-args, plus in_channels and num_classes where the factory names them and --model-args does not."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: call it with --model-args alone
        return dict(args)
    given = {"in_channels": shape.channels, "num_classes": shape.classes}
    return {name: value for name, value in given.items() if name in parameters} | dict(args)


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"--model {path}: no such file")
    name = FILE_MODULE_PREFIX + "".join(c if c.isalnum() else "_" for c in str(path.resolve().with_suffix("")))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--model {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # registered first, as an import does: dataclasses and pickling look it up
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ConfigError(f"importing {path} raised {one_line(error)}") from error
    return module
