"""`package.module:factory` or `path/to/file.py:factory`: the user's own network, as uvicorn takes an app.

The factory (a function or an nn.Module class) is called with the JSON object of --model-args as keyword arguments,
plus `in_channels` and `num_classes` where it names those parameters. Its module is imported when the network is
built (in the process that trains), never when the name is resolved.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import json
import os
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.spec import Builder, InputShape, initialise
from prunetui.engine.core.preload import before_foreign_code
from prunetui.engine.pruning.structural import one_line

if TYPE_CHECKING:
    from torch import nn

FILE_MODULE_PREFIX = "prunetui_user_network_"  # the module name a file's code is imported under
# Set in a Ray worker's environment (`ray_runtime_env`): {a network file's path where the jobs were started: the
# module name Ray shipped it under}, for a worker on a machine where that path does not exist.
SHIPPED_ENV = "PRUNETUI_SHIPPED_NETWORKS"


def user_builder(spec: str, args: Mapping[str, Any]) -> Builder:
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute.isidentifier():
        raise ConfigError(f"--model {spec}: write package.module:factory or path/to/file.py:factory")

    def build(shape: InputShape, init: str) -> nn.Module:
        from torch import nn

        factory = load_factory(target, attribute)
        arguments = factory_arguments(spec, factory, args, shape)
        try:
            model = factory(**arguments)
        except Exception as error:
            raise ConfigError(f"{spec} raised {one_line(error)}") from error
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module")
        return initialise(model, init)

    return build


def is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def absolute_factory(name: str) -> str:
    """`path/to/file.py:factory` (a network's or a data set's) with the file's path made absolute, for a worker or a
    run read from another directory; any other --model or --dataset as it is."""
    target, colon, attribute = name.rpartition(":")
    if colon and is_file_target(target) and not name.startswith("torchvision:"):
        return f"{Path(target).expanduser().resolve()}:{attribute}"
    return name


def ray_runtime_env(models: Iterable[str]) -> dict[str, Any]:
    """What Ray ships with the jobs so that a worker on any machine of the cluster imports the user's networks:
    each network file (`py_modules`, importable there by its name; `SHIPPED_ENV` says which path it stands for), and
    the package or module of a `package.module:factory` that is not installed (found here beside the working
    directory, not in site-packages). Empty for the built-ins and torchvision's."""
    shipped: dict[str, str] = {}
    modules: list[str] = []
    for model in models:
        target, colon, _ = model.rpartition(":")
        if not colon or model.startswith("torchvision:"):
            continue
        if is_file_target(target):
            path = Path(target).expanduser().resolve()
            shipped[str(path)] = path.stem
            modules.append(str(path))
        elif (source := _uninstalled_source(target.partition(".")[0])) is not None:
            modules.append(source)
    if not modules:
        return {}
    env = {"py_modules": list(dict.fromkeys(modules))}
    return env | {"env_vars": {SHIPPED_ENV: json.dumps(shipped)}} if shipped else env


def _uninstalled_source(top: str) -> str | None:
    """The folder of package `top` (or its .py file) when it is the user's code, not an installed distribution's or
    the standard library's: None for those and for a name nothing provides."""
    if os.getcwd() not in sys.path:  # as load_factory finds it
        sys.path.append(os.getcwd())
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    installed = {Path(path).resolve() for path in (*site.getsitepackages(), site.getusersitepackages())}
    installed.add(Path(sysconfig.get_paths()["stdlib"]).resolve())
    origin = Path(spec.origin).resolve()
    if any(origin.is_relative_to(place) for place in installed):
        return None
    return str(origin.parent if spec.submodule_search_locations else origin)


def load_factory(target: str, attribute: str) -> Callable[..., Any]:
    """The callable `attribute` of the module `target` (a dotted name, or a .py file's path)."""
    before_foreign_code()  # the user's code may import anything of torch's
    if is_file_target(target):
        module = _import_file(Path(target).expanduser())  # the app's fields pass ~ as typed
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
        near = difflib.get_close_matches(attribute, [name for name in vars(module) if not name.startswith("_")], n=1)
        raise ConfigError(f"{target} has no {attribute}" + (f"; did you mean {target}:{near[0]}?" if near else ""))
    if not callable(factory):
        raise ConfigError(f"{target}:{attribute} is a {type(factory).__name__}, not a function or class")
    return factory  # type: ignore[no-any-return]


def factory_arguments(
    spec: str, factory: Callable[..., Any], args: Mapping[str, Any], shape: InputShape
) -> dict[str, Any]:
    """--model-args, plus in_channels and num_classes where the factory names them and --model-args does not. A
    factory that cannot take them is one line saying what prunetui passes (Python's TypeError names the factory's
    parameters, not where their values come from)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: call it with --model-args alone
        return dict(args)
    given = {"in_channels": shape.channels, "num_classes": shape.classes}
    arguments = {name: value for name, value in given.items() if name in signature.parameters} | dict(args)
    try:
        signature.bind(**arguments)
    except TypeError as error:
        raise ConfigError(
            f"{spec} cannot be called as prunetui calls it ({error}): it passes in_channels= and num_classes= by "
            "name where the factory has them, and the --model-args"
        ) from None
    return arguments


def check_source(name: str) -> None:
    """ConfigError when `--model name` is `path/to/file.py:factory` and the file is neither there nor shipped by
    Ray: a run says so before its data loads (the file itself is imported when the network is built)."""
    target, colon, _ = name.rpartition(":")
    if colon and is_file_target(target) and not name.startswith("torchvision:"):
        _existing(Path(target).expanduser())


def _import_file(path: Path) -> Any:
    path = _existing(path)
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


def _existing(path: Path) -> Path:
    """The network file at `path`, or where Ray shipped it."""
    return path if path.is_file() else _shipped(path)


def _shipped(path: Path) -> Path:
    """Where Ray put the network file that was at `path` where the jobs were started (`ray_runtime_env`); a
    ConfigError saying the file is missing when it shipped none."""
    shipped = json.loads(os.environ.get(SHIPPED_ENV, "{}")).get(str(path.expanduser().resolve()))
    spec = importlib.util.find_spec(shipped) if shipped else None
    if spec is None or not spec.origin:
        raise ConfigError(f"--model {path}: no such file")
    return Path(spec.origin)
