"""`torchvision:NAME`: torchvision's classification CNNs, built without weights (nothing is downloaded), with the
classifier sized to the data's classes and, for data that is not RGB, the first conv replaced by one that takes the
data's channels. The transformers (ViT, Swin, MaxViT) are refused: they fix their image size and prune differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.spec import Builder, InputShape, initialise
from prunetui.engine.core.preload import before_foreign_code

if TYPE_CHECKING:
    from torch import nn

TRANSFORMERS = ("vit_", "swin_", "maxvit_")
# Networks with auxiliary classifiers: without them the forward pass returns the class scores alone.
AUXILIARY = ("googlenet", "inception_v3")


def torchvision_builder(name: str, args: Mapping[str, Any]) -> Builder:
    if name.startswith(TRANSFORMERS):
        raise ConfigError(f"torchvision:{name} is a transformer; prunetui prunes torchvision's classification CNNs")

    def build(shape: InputShape, init: str) -> nn.Module:
        before_foreign_code()  # torchvision imports torch's compiler too
        import torchvision

        names = torchvision.models.list_models(module=torchvision.models)
        if name not in names:
            cnns = [known for known in names if not known.startswith(TRANSFORMERS)]
            raise ConfigError(f"torchvision has no classification model {name}; its CNNs are {', '.join(cnns)}")
        kwargs: dict[str, Any] = {"weights": None, "num_classes": shape.classes}
        if name in AUXILIARY:
            kwargs |= {"aux_logits": False, "init_weights": True}
        model = torchvision.models.get_model(name, **{**kwargs, **args})
        _fit_first_conv(model, shape.channels)
        return initialise(model, init)

    return build


def _fit_first_conv(model: nn.Module, channels: int) -> None:
    """Replace the first conv (torchvision registers the stem first) by one taking `channels` input channels."""
    from torch import nn

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels != channels:
                parent, _, attribute = name.rpartition(".")
                replacement = nn.Conv2d(
                    channels,
                    module.out_channels,
                    module.kernel_size,  # type: ignore[arg-type]
                    module.stride,  # type: ignore[arg-type]
                    module.padding,  # type: ignore[arg-type]
                    module.dilation,  # type: ignore[arg-type]
                    bias=module.bias is not None,
                )
                setattr(model.get_submodule(parent), attribute, replacement)
            return
