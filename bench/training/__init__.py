"""Fitting one model: one training step (``step``), one epoch policy (``policy``: early stopping, the
learning-rate plateau, the best state), the training loop and prediction (``trainer``), and the stacked
ensemble (``stacked``). The test metrics it reports live in :mod:`bench.core.metrics`."""
