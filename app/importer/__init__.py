"""Import a network from PyTorch (torch.fx) or ONNX into a spec in the spec language.

torch, torchvision and onnx are imported only inside this package, and only when an import is
asked for; the web app and the engine run without them.
"""
