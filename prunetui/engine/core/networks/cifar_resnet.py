"""The CIFAR ResNets of He et al. (2016), section 4.2: a 3x3 conv of 16 filters, three stages of n basic blocks
(16, 32 and 64 channels, the last two starting with stride 2), global average pooling and one linear layer; depth
6n + 2 (ResNet-20, -32, -56).

The shortcuts that change shape are "option B", a 1x1 conv and BatchNorm, as Li et al. (2017) prune ResNet-56-B:
option A pads with zeros by sizes fixed at construction, which no longer fit once channels go.
"""

from __future__ import annotations

from torch import Tensor, nn

STAGE_CHANNELS = (16, 32, 64)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110), not {depth}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, STAGE_CHANNELS[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_CHANNELS[0])
        self.relu = nn.ReLU()
        stages: list[nn.Module] = []
        width = STAGE_CHANNELS[0]
        for stage, channels in enumerate(STAGE_CHANNELS):
            layers = []
            for block in range(blocks):
                layers.append(BasicBlock(width, channels, 2 if stage > 0 and block == 0 else 1))
                width = channels
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        for module in self.modules():  # He et al.'s initialisation, as torchvision's ResNets draw it
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.pool(x).flatten(1))
