"""The small classes the generated code uses, as source: one per block kind, each with its
``forward`` written out, plus ``named`` (an ``nn.Sequential`` keeping the spec's names) and
``PadChannels``. ``BLOCK_CODE`` has exactly the engine's block kinds (a meta-test checks).
"""

from __future__ import annotations

__all__ = ["BLOCK_CODE", "HELPERS", "HELPER_ORDER"]

_NAMED = '''\
def named(**layers: nn.Module) -> nn.Sequential:
    """An nn.Sequential whose layers keep the spec's names."""
    return nn.Sequential(OrderedDict(layers))
'''

_CONCAT = '''\
class Concat(nn.Module):
    """Every branch sees the same input; their outputs are stacked along the channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)
'''

_DENSE = '''\
class Dense(nn.Module):
    """A DenseNet layer: the input and the body's output stacked along the channels."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)
'''

_RESIDUAL = '''\
class Residual(nn.Module):
    """body(x) + shortcut(x); without a shortcut, body(x) + x (He et al. 2016)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)
'''

_STOCHASTIC = '''\
class StochasticResidual(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training the body runs with probability
    ``survival`` (otherwise only the shortcut does); in evaluation the body is scaled by it."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None,
                 survival: float = 1.0) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.survival = survival

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and float(torch.rand(())) >= self.survival:
            return self.shortcut(x)
        body = self.body(x)
        if not self.training:
            body = body * self.survival
        return body + self.shortcut(x)
'''

_JOIN = '''\
class Join(nn.Module):
    """FractalNet's join: the element-wise mean of the branches' outputs."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([branch(x) for branch in self.branches]).mean(dim=0)
'''

_AUX = '''\
class Aux(nn.Module):
    """An auxiliary classifier: its output is kept in ``self.output`` (for the training
    loss); the main tensor passes through unchanged."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.output: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.output = self.head(x)
        return x
'''

_PADCHANNELS = '''\
class PadChannels(nn.Module):
    """Zero channels appended up to ``out`` (the ResNet paper's option-A shortcut)."""

    def __init__(self, out: int) -> None:
        super().__init__()
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, 0, 0, 0, self.out - x.shape[1]))
'''

_SCALE = '''\
class Scale(nn.Module):
    """Squeeze-and-excitation: the input times the body's 1x1 gate, channel by channel."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(x)
'''

_SPLIT = '''\
class Split(nn.Module):
    """ShuffleNet V2's unit: the input's channels split equally among the branches, each
    branch run on its share, their outputs stacked along the channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shares = x.chunk(len(self.branches), dim=1)
        return torch.cat([branch(share) for branch, share in zip(self.branches, shares)], dim=1)
'''

_LAYERNORM = '''\
class LayerNorm2d(nn.Module):
    """LayerNorm over the channels at each position (ConvNeXt): C scales and C shifts."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
'''

_LAYERSCALE = '''\
class LayerScale(nn.Module):
    """Each channel times a learnable factor, started small (ConvNeXt): C parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma
'''

_CENTERCROP = '''\
class CenterCrop(nn.Module):
    """The middle h x w of the map; the odd row or column left over is dropped after."""

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, left = (x.shape[2] - self.h) // 2, (x.shape[3] - self.w) // 2
        return x[:, :, top:top + self.h, left:left + self.w]
'''

_CAT = '''\
class Cat(nn.Module):
    """The named tensors given to forward, concatenated along the channels."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)
'''

_SUM = '''\
class Sum(nn.Module):
    """The named tensors given to forward, added element by element."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.stack(xs).sum(dim=0)
'''

_PRODUCT = '''\
class Product(nn.Module):
    """The named tensors given to forward, multiplied element by element (a 1x1 gate is
    broadcast over the map)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out
'''

#: block kind -> the helper class it uses; its keys are the engine's block kinds
BLOCK_CODE: dict[str, str] = {
    "concat": _CONCAT, "dense": _DENSE, "residual": _RESIDUAL, "join": _JOIN, "aux": _AUX,
    "scale": _SCALE, "split": _SPLIT,
}
#: helpers in the order they are written into the file
HELPER_ORDER = ("named", "Concat", "Dense", "Residual", "StochasticResidual", "Join", "Aux",
                "Scale", "Split", "PadChannels", "LayerNorm2d", "LayerScale", "CenterCrop", "Cat", "Sum", "Product")
HELPERS = {"named": _NAMED, "Concat": _CONCAT, "Dense": _DENSE, "Residual": _RESIDUAL,
           "StochasticResidual": _STOCHASTIC, "Join": _JOIN, "Aux": _AUX, "Scale": _SCALE,
           "Split": _SPLIT,
           "PadChannels": _PADCHANNELS, "LayerNorm2d": _LAYERNORM, "LayerScale": _LAYERSCALE,
           "CenterCrop": _CENTERCROP, "Cat": _CAT, "Sum": _SUM, "Product": _PRODUCT}
