"""Spec -> torch ``nn.Module``: the second interpreter of a parsed spec.

The analytic engine (:mod:`app.engine`) computes shapes, parameters and multiply-adds from
formulas; this package builds the same architecture as a real PyTorch module, so that a forward
pass can measure them. Torch is the ground truth: the cross-check tests compare both, layer by
layer, and every zoo model must agree exactly.

* :mod:`.modules`: the small modules torch lacks (``fc`` on a 4-D tensor, centre crop ...);
* :mod:`.blocks`: the module around each spec layer, and one per block kind;
* :mod:`.layers`: one module factory per registry op (:data:`LAYER_MODULES`);
* :mod:`.network`: :class:`SpecNet` and :func:`build_module`;
* :mod:`.measuring`: one measured forward pass as a :class:`Measurement`, and :func:`compare`.

Conventions, chosen so that torch infers everything the engine computes:

* Weight layers are *lazy* (``LazyConv2d``, ``LazyLinear``, ``LazyBatchNorm2d``): torch infers
  input channels itself; :func:`build_module` materialises them with one dummy forward.
* Every tensor stays 4-D (N, C, H, W). ``fc`` flattens its input, applies ``Linear`` and returns
  (N, out, 1, 1); ``flatten`` returns (N, C*H*W, 1, 1). That is the engine's 1x1xN volume.
* Every layer records its output shape (H, W, C) under its name, every block merge under the
  block's name, and the input under ``net.input_name``.

Torch is imported here, in the worker's child process and in the importers, nowhere else.
"""

from app.torchnet.blocks import Shape, shape_of
from app.torchnet.layers import LAYER_MODULES, ModuleFactory
from app.torchnet.measuring import Measurement, compare, measure, measure_module
from app.torchnet.network import SpecNet, build_module

__all__ = ["LAYER_MODULES", "Measurement", "ModuleFactory", "Shape", "SpecNet", "build_module",
           "compare", "measure", "measure_module", "shape_of"]
