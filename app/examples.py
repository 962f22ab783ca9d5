"""The lecture's small worked networks and pasted listings, as spec text.

Shared by the lecture claims (``app.lecture``), the form's first example and the tests, so that
each listing is written once.
"""

#: the AlexNet slide's listing, as the lecture shows it (the bracketed volumes are claims)
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
input 28x28x256                 # the output of the previous module
naive_inception: concat {
  branch { conv 128 1x1 }
  branch { conv 192 3x3 pad 1 }
  branch { conv 96 5x5 pad 2 }
  branch { maxpool 3x3 stride 1 pad 1 }
}
"""
BOTTLENECK_INCEPTION = """\
input 28x28x256
inception: concat {
  branch { conv 128 1x1 }
  branch { conv 64 1x1; conv 192 3x3 pad 1 }
  branch { conv 64 1x1; conv 96 5x5 pad 2 }
  branch { maxpool 3x3 stride 1 pad 1; conv 64 1x1 }
}
"""
STACKED_3X3 = "input 32x32x{c}\n" + "conv {c} 3x3 pad 1 nobias\n" * 3
SINGLE_7X7 = "input 32x32x{c}\nconv {c} 7x7 pad 3 nobias\n"
RESNET_BOTTLENECK = """\
input 28x28x256
bottleneck: residual {
  conv 64 1x1 nobias; bn; relu
  conv 64 3x3 pad 1 nobias; bn; relu
  conv 256 1x1 nobias; bn
}
relu
"""
RESNET_BASIC_256 = """\
input 28x28x256
basic: residual { conv 256 3x3 pad 1 nobias; bn; relu; conv 256 3x3 pad 1 nobias; bn }
relu
"""
