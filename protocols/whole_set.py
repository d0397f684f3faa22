"""The whole-set protocol: all subjects pooled, folds over the pool (the paper's '2 models')."""

from __future__ import annotations

from protocols.base import Protocol

WHOLE_SET = Protocol(
    "whole-set",
    "pooled",
    ("trial", "segment"),
    "trial",
    "all subjects pooled, folds over the pool (the paper's '2 models')",
)
