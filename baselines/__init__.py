"""Baseline models; importing this package registers ``4dcrnn``, ``fbccnn``, ``mccnn``, ``saelstm``, the
time-domain ``eegnet``, ``shallowconvnet``, ``deepconvnet``, ``tsception``, then ``majority`` and ``prior``
(in this order, after ``mtcnn``): the import order is the registry's, so tables list models in it."""

# isort: off
from baselines.crnn4d import CRNN4D
from baselines.fbccnn import FBCCNN
from baselines.mccnn import MultiColumnCNN
from baselines.saelstm import SAELSTM
from baselines.eegnet import EEGNet
from baselines.shallowconvnet import ShallowConvNet
from baselines.deepconvnet import DeepConvNet
from baselines.tsception import TSception
from baselines.trivial import MajorityClass, PriorSampler

# isort: on

__all__ = [
    "CRNN4D",
    "FBCCNN",
    "MultiColumnCNN",
    "SAELSTM",
    "EEGNet",
    "ShallowConvNet",
    "DeepConvNet",
    "TSception",
    "MajorityClass",
    "PriorSampler",
]
