"""The notebook's networks written out as plain nn.Sequential stacks, independently of cifarlab.models.registry."""

from torch import nn


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


def notebook_cnn3_wide() -> nn.Sequential:
    """The 64-channel cnn3 of the notebook's code, whose weights it saved as cnn3.pth."""
    return nn.Sequential(
        *conv_bn_relu(3, 64),
        *conv_bn_relu(64, 64),
        nn.MaxPool2d(2, 2),
        *conv_bn_relu(64, 64),
        *conv_bn_relu(64, 64),
        nn.MaxPool2d(2, 2),
        *conv_bn_relu(64, 128),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(2048, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 10),
    )


def notebook_mlp_first() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 96), nn.ReLU(), nn.Dropout(0.0), nn.Linear(96, 10))
