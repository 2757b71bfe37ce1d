"""The student notebook's networks: softmax regression, two MLPs and three CNNs, plus the 64-channel
``cnn3_wide`` its code actually trained.

They are plain ``nn.Sequential`` stacks with the notebook's exact layer order, so the ``state_dict``
files it saved (keys ``0.weight``, ``1.running_mean`` ...) load without any key mapping.
"""

from __future__ import annotations

from torch import nn

from .registry import init_xavier_normal, register_model


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


# --- the notebook's networks -------------------------------------------------------------------


@register_model("softmax", family="notebook", recipe="seed-softmax")
def softmax(num_classes: int = 10) -> nn.Module:
    """Softmax regression: Flatten, Linear(3072, 10) (notebook, Xavier init)."""
    return init_xavier_normal(nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes)))


@register_model("mlp_first", family="notebook", recipe="seed-mlp-first")
def mlp_first(num_classes: int = 10, hidden: int = 96, dropout: float = 0.0) -> nn.Module:
    """The notebook's first MLP: 3072-96-10, ReLU, Dropout(0) (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Flatten(), nn.Linear(3072, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )
    )


@register_model("mlp_final", family="notebook", recipe="seed-mlp-final", published="53.6% (the notebook, RTX 5070 Ti)")
def mlp_final(num_classes: int = 10, dropout: float = 0.2) -> nn.Module:
    """The notebook's final MLP: 3072-1024-512-256-10, Dropout 0.2 after the first two (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(3072, 1024),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
    )


@register_model("cnn1", family="notebook", recipe="seed-cnn1", published="~65% (the notebook)")
def cnn1(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 1: Conv(3,64)-ReLU-Conv(64,32)-ReLU-MaxPool-Linear(8192,256)-ReLU-Linear (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 16 * 16, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
    )


@register_model("cnn2", family="notebook", recipe="seed-cnn2", published="75.2% (the notebook)")
def cnn2(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 2: two Conv-BN-ReLU-Pool blocks (32, 64), Linear(4096,256), Dropout 0.5 (Xavier init)."""
    return init_xavier_normal(
        nn.Sequential(
            *_conv_bn_relu(3, 32),
            nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(256, num_classes),
        )
    )


def _cnn3(widths: tuple[int, int, int, int, int], num_classes: int) -> nn.Sequential:
    w1, w2, w3, w4, w5 = widths
    # Layer order (and so the state_dict keys) is exactly the notebook's: conv=0,3,7,10,14; linear=19,22.
    return nn.Sequential(
        *_conv_bn_relu(3, w1),
        *_conv_bn_relu(w1, w2),
        nn.MaxPool2d(2),
        *_conv_bn_relu(w2, w3),
        *_conv_bn_relu(w3, w4),
        nn.MaxPool2d(2),
        *_conv_bn_relu(w4, w5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(w5 * 4 * 4, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


@register_model("cnn3", family="notebook", recipe="seed-cnn3", published="~82% (the notebook's write-up)")
def cnn3(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 3 (write-up): 5 Conv-BN-ReLU (32,32,64,64,128), 3 pools, Linear(2048,256) (default init)."""
    return _cnn3((32, 32, 64, 64, 128), num_classes)


@register_model("cnn3_wide", family="notebook", recipe="seed-cnn3-wide", published="83.0% (the notebook's saved run)")
def cnn3_wide(num_classes: int = 10) -> nn.Module:
    """Notebook CNN 3 as coded (its saved weights): widths 64,64,64,64,128 (default init)."""
    return _cnn3((64, 64, 64, 64, 128), num_classes)
