"""VGG-16 with BatchNorm for CIFAR, as Li et al. (2017) prune it (after Zagoruyko's cifar.torch): thirteen 3x3
convs with BatchNorm in five stages (64, 128, 256, 512, 512 channels, each ending in 2x2 max pooling), then a
hidden linear layer of 512 with BatchNorm and the classifier; 15.0 M parameters for 10 classes. Five poolings
halve the image five times, so it takes images of 32x32 and larger (larger ones are averaged to 1x1 first).
"""

from __future__ import annotations

from torch import Tensor, nn

STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class CifarVGG(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for stage in STAGES:
            for channels in stage:
                layers += [nn.Conv2d(width, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
                width = channels
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(width, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))
