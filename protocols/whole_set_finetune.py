"""The whole-set-finetune protocol: the whole-set folds, a pooled model per fold fine-tuned per subject
(the MT-CNN authors' code). Its units cannot be stacked (:attr:`protocols.base.Protocol.stackable`)."""

from __future__ import annotations

from protocols.base import Protocol

WHOLE_SET_FINETUNE = Protocol(
    "whole-set-finetune",
    "pooled",
    ("trial", "segment"),
    "trial",
    "pretrain on the pooled training part, then fine-tune per subject (the MT-CNN authors' code)",
    finetune=True,
)
