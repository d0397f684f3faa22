"""Baseline models; importing this package registers ``4dcrnn``, ``fbccnn``, ``mccnn``, ``saelstm``,
``majority`` and ``prior`` (in this order, after ``mtcnn``)."""

from baselines.crnn4d import CRNN4D
from baselines.fbccnn import FBCCNN
from baselines.mccnn import MultiColumnCNN
from baselines.saelstm import SAELSTM
from baselines.trivial import MajorityClass, PriorSampler

__all__ = ["CRNN4D", "FBCCNN", "MultiColumnCNN", "SAELSTM", "MajorityClass", "PriorSampler"]
