"""Every network by name: the registry (one contract) and one module per family.

Importing the package registers every family, in the order ``cifarlab models`` lists them;
``create_model("resnet20")`` builds one.
"""

# isort: off
from . import notebook, resnet, fastnet, vgg, mobilenet, densenet, convmixer, vit  # noqa: F401  (register)

# isort: on
from .parts import CIFAR_MEAN, CIFAR_STD, Normalize
from .registry import (
    ModelInfo,
    count_parameters,
    create_model,
    forward_flops,
    init_xavier_normal,
    list_models,
    model_info,
    register_model,
)

__all__ = [
    "CIFAR_MEAN",
    "CIFAR_STD",
    "ModelInfo",
    "Normalize",
    "count_parameters",
    "create_model",
    "forward_flops",
    "init_xavier_normal",
    "list_models",
    "model_info",
    "register_model",
]
