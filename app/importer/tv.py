"""torchvision, loaded only when asked for, and its classification builders by name.

The torchvision wheel on PyPI is built against CUDA torch; beside the CPU build of torch its
compiled ops (``torchvision::nms`` ...) do not load, and ``import torchvision`` then fails while
registering fake kernels for two of them. The models use none of those ops, so when that is the
reason the import failed, the two schemas are declared (no kernel) and the import retried.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: classification builders the importer offers by name (the web page's <select>)
CLASSIFIERS: tuple[str, ...] = (
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg16", "vgg19", "squeezenet1_0",
    "squeezenet1_1", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "wide_resnet50_2", "densenet121", "densenet169", "googlenet",
    "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "mnasnet0_5", "mnasnet1_0",
    "efficientnet_b0", "efficientnet_b1", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny",
)
#: builders whose auxiliary classifiers run only in training (imported as aux { } blocks)
WITH_AUX = frozenset({"googlenet", "inception_v3"})
#: the input each one is built for (H, W)
NOMINAL_INPUT: dict[str, tuple[int, int]] = {"inception_v3": (299, 299)}
_SHIMMED_OPS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
                "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_shim: Any = None


class TorchvisionMissing(ImportError):
    """torchvision (or torch) is not installed: the ``import`` extra provides them."""


def torchvision_models() -> ModuleType:
    """``torchvision.models``, imported on first use (raises :class:`TorchvisionMissing`)."""
    try:
        return importlib.import_module("torchvision.models")
    except ModuleNotFoundError as exc:
        raise TorchvisionMissing(
            "torchvision is not installed; install archcalc's 'import' extra") from exc
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    _declare_missing_ops()
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    return importlib.import_module("torchvision.models")


def _declare_missing_ops() -> None:
    global _shim
    import torch

    if _shim is None:
        _shim = torch.library.Library("torchvision", "FRAGMENT")  # type: ignore[no-untyped-call]
        for schema in _SHIMMED_OPS:
            _shim.define(schema)


def builder(name: str) -> Callable[..., Any]:
    """The torchvision builder called ``name``, if it is one of :data:`CLASSIFIERS`."""
    if name not in CLASSIFIERS:
        raise KeyError(name)
    fn: Callable[..., Any] = getattr(torchvision_models(), name)
    return fn


def build(name: str, meta: bool = False) -> Any:
    """torchvision's ``name`` model, untrained (``weights=None``), in eval mode; with ``meta``,
    on torch's "meta" device: every parameter has its shape and no storage, so building and
    tracing cost neither the weights' memory nor their initialisation.

    GoogLeNet and Inception-v3 are built with ``init_weights=False``: their default truncated-
    normal initialisation is slow (it goes through scipy) and changes no count.
    """
    kwargs: dict[str, Any] = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = False
    make = builder(name)
    if not meta:
        return make(**kwargs).eval()
    import torch

    with torch.device("meta"):
        return make(**kwargs).eval()


def channel_shuffle_functions() -> tuple[Callable[..., Any], ...]:
    """torchvision's ShuffleNetV2 ``channel_shuffle`` (traced as one call, read as
    ``channelshuffle G``), when torchvision is installed."""
    try:
        torchvision_models()
        from torchvision.models import shufflenetv2  # type: ignore[import-untyped]
    except ImportError:
        return ()
    return (shufflenetv2.channel_shuffle,)
