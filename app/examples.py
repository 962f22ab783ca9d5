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

#: the VGG16 listing of the course notes: each row's memory and parameter figures are claims,
#: and so are its two TOTAL lines (the memory one is the lecture's slip)
VGG16_NOTES = """\
INPUT: [224x224x3]        memory:  224*224*3=150K   params: 0
CONV3-64: [224x224x64]  memory:  224*224*64=3.2M   params: (3*3*3)*64 = 1,728
CONV3-64: [224x224x64]  memory:  224*224*64=3.2M   params: (3*3*64)*64 = 36,864
POOL2: [112x112x64]  memory:  112*112*64=800K   params: 0
CONV3-128: [112x112x128]  memory:  112*112*128=1.6M   params: (3*3*64)*128 = 73,728
CONV3-128: [112x112x128]  memory:  112*112*128=1.6M   params: (3*3*128)*128 = 147,456
POOL2: [56x56x128]  memory:  56*56*128=400K   params: 0
CONV3-256: [56x56x256]  memory:  56*56*256=800K   params: (3*3*128)*256 = 294,912
CONV3-256: [56x56x256]  memory:  56*56*256=800K   params: (3*3*256)*256 = 589,824
CONV3-256: [56x56x256]  memory:  56*56*256=800K   params: (3*3*256)*256 = 589,824
POOL2: [28x28x256]  memory:  28*28*256=200K   params: 0
CONV3-512: [28x28x512]  memory:  28*28*512=400K   params: (3*3*256)*512 = 1,179,648
CONV3-512: [28x28x512]  memory:  28*28*512=400K   params: (3*3*512)*512 = 2,359,296
CONV3-512: [28x28x512]  memory:  28*28*512=400K   params: (3*3*512)*512 = 2,359,296
POOL2: [14x14x512]  memory:  14*14*512=100K   params: 0
CONV3-512: [14x14x512]  memory:  14*14*512=100K   params: (3*3*512)*512 = 2,359,296
CONV3-512: [14x14x512]  memory:  14*14*512=100K   params: (3*3*512)*512 = 2,359,296
CONV3-512: [14x14x512]  memory:  14*14*512=100K   params: (3*3*512)*512 = 2,359,296
POOL2: [7x7x512]  memory:  7*7*512=25K  params: 0
FC: [1x1x4096]  memory:  4096  params: 7*7*512*4096 = 102,760,448
FC: [1x1x4096]  memory:  4096  params: 4096*4096 = 16,777,216
FC: [1x1x1000]  memory:  1000 params: 4096*1000 = 4,096,000
TOTAL memory: 24M * 4 bytes ~= 96MB / image (only forward! ~*2 for bwd)
TOTAL params: 138M parameters
"""

#: the lecture's first question: the output volume and the parameters of CONV1 alone
CONV1_ALONE = """\
[227x227x3] INPUT
[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0   params: (11*11*3)*96 = 35K
"""

#: three stacked 3x3 convs beside one 7x7 (C = 64 channels, no biases, as the slide counts):
#: both see 7x7 pixels of the input; 3 x (3*3*C*C) = 27C^2 weights against 49C^2
THREE_3X3_VS_7X7 = """\
input 32x32x64
# branch 1: three 3x3 convs, stride 1 (receptive field 3, 5, 7)
# branch 2: one 7x7 conv (receptive field 7)
compare: concat {
  branch {
    conv 64 3x3 pad 1 nobias; relu
    conv 64 3x3 pad 1 nobias; relu
    conv 64 3x3 pad 1 nobias; relu
  }
  branch { conv 64 7x7 pad 3 nobias; relu }
}
"""

#: the examples the calculator offers, by id: (title, spec text)
EXAMPLES: dict[str, tuple[str, str]] = {
    "alexnet": ("AlexNet (slide listing)", ALEXNET_SLIDE),
    "conv1": ("AlexNet CONV1 alone", CONV1_ALONE),
    "3x3-vs-7x7": ("three 3x3 convs vs one 7x7", THREE_3X3_VS_7X7),
    "naive-inception": ("naive Inception module", NAIVE_INCEPTION),
    "inception": ("Inception module with 1x1 bottlenecks", BOTTLENECK_INCEPTION),
    "resnet-bottleneck": ("ResNet bottleneck block", RESNET_BOTTLENECK),
    "vgg16": ("VGG16 (course notes listing)", VGG16_NOTES),
}
