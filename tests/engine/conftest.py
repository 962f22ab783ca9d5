from __future__ import annotations

import pytest

ALEXNET_SLIDE = """\
[227x227x3] INPUT
[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0
[27x27x96] MAX POOL1: 3x3 filters at stride 2
[27x27x96] NORM1: Normalization layer
[27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2
[13x13x256] MAX POOL2: 3x3 filters at stride 2
[13x13x256] NORM2: Normalization layer
[13x13x384] CONV3: 384 3x3 filters at stride 1, pad 1
[13x13x384] CONV4: 384 3x3 filters at stride 1, pad 1
[13x13x256] CONV5: 256 3x3 filters at stride 1, pad 1
[6x6x256] MAX POOL3: 3x3 filters at stride 2
[4096] FC6: 4096 neurons
[4096] FC7: 4096 neurons
[1000] FC8: 1000 neurons (class scores)
"""

NAIVE_INCEPTION = """\
input 28x28x256
concat {
  branch { conv 128 1x1 }
  branch { conv 192 3x3 pad 1 }
  branch { conv 96 5x5 pad 2 }
  branch { maxpool 3x3 stride 1 pad 1 }
}
"""

BOTTLENECK_INCEPTION = """\
input 28x28x256
concat {
  branch { conv 128 1x1 }
  branch { conv 64 1x1; conv 192 3x3 pad 1 }
  branch { conv 64 1x1; conv 96 5x5 pad 2 }
  branch { maxpool 3x3 stride 1 pad 1; conv 64 1x1 }
}
"""


@pytest.fixture
def alexnet_slide() -> str:
    return ALEXNET_SLIDE
