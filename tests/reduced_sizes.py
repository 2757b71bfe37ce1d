"""A reduced size of every registered model: the same builder with smaller options, cheap enough to
train on a laptop CPU in a test."""

REDUCED: dict[str, dict] = {
    # the notebook's networks have no size options, and at <= 0.19 s a step need none
    "softmax": {},
    "mlp_first": {},
    "mlp_final": {},
    "cnn1": {},
    "cnn2": {},
    "cnn3": {},
    "cnn3_wide": {},
    "resnet18": {"width": 8},
    "fastnet": {"width": 0.25},
    "resnet9": {"width": 16},
    # the rest of the zoo
    "resnet20": {"width": 8},
    "resnet32": {"depth": 20, "width": 8},
    "resnet44": {"depth": 20, "width": 8},
    "resnet56": {"depth": 20, "width": 8},
    "resnet110": {"depth": 20, "width": 8},
    "resnet34": {"width": 8},
    "resnet50": {"width": 8, "blocks": (1, 1, 1, 1)},
    "preact_resnet18": {"width": 8},
    "wrn16_8": {"depth": 10, "widen_factor": 1},
    "wrn28_10": {"depth": 10, "widen_factor": 1},
    "vgg11_bn": {"width": 16},
    "vgg16_bn": {"width": 8},
    "mobilenetv2": {"width_mult": 0.25, "stem_stride": 2},
    "densenet121": {"growth": 8, "blocks": (1, 2, 2, 1)},
    "convmixer": {"dim": 64, "depth": 4, "patch_size": 4},
    "vit": {"dim": 64, "depth": 2, "heads": 2, "mlp_dim": 128},
}
