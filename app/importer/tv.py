"""torchvision, loaded only when asked for, and its classification builders by name.

The torchvision wheel on PyPI is built against CUDA torch; beside the CPU build of torch its
compiled ops (``torchvision::nms`` ...) do not load, and ``import torchvision`` then fails while
registering fake kernels for two of them. The models use none of those ops, so when that is the
reason the import failed, the two schemas are declared (no kernel) and the import retried.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

#: every classification builder of torchvision.models (``list_models(module=torchvision.models)``,
#: held equal to it by a test): the web page's <select>, and the names the importer takes.
#: The vision transformers among them are refused node by node, by name.
CLASSIFIERS: tuple[str, ...] = (
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny",
    "densenet121", "densenet161", "densenet169", "densenet201", "efficientnet_b0",
    "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5",
    "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l", "efficientnet_v2_m",
    "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75",
    "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    "regnet_x_16gf", "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf",
    "regnet_x_800mf", "regnet_x_8gf", "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf",
    "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf",
    "resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnext101_32x8d",
    "resnext101_64x4d", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b",
    "swin_s", "swin_t", "swin_v2_b", "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13",
    "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14",
    "vit_l_16", "vit_l_32", "wide_resnet101_2", "wide_resnet50_2",
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

    with torch.device("meta"), _widths_on_cpu():
        return make(**kwargs).eval()


@contextmanager
def _widths_on_cpu() -> Iterator[None]:
    """RegNet's builders compute their stages' widths with tensors and read them back
    (``.tolist()``), which a meta tensor cannot do: that one computation runs on the CPU while
    the modules are still made on the meta device."""
    import torch
    from torchvision.models import regnet  # type: ignore[import-untyped]

    original = regnet.BlockParams.__dict__["from_init_params"]

    def on_cpu(cls: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return original.__func__(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(on_cpu)
    try:
        yield
    finally:
        regnet.BlockParams.from_init_params = original


def channel_shuffle_functions() -> tuple[Callable[..., Any], ...]:
    """torchvision's ShuffleNetV2 ``channel_shuffle`` (traced as one call, read as
    ``channelshuffle G``), when torchvision is installed."""
    try:
        torchvision_models()
        from torchvision.models import shufflenetv2
    except ImportError:
        return ()
    return (shufflenetv2.channel_shuffle,)
