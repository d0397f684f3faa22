"""Fitting one model: the training loop, its epoch policy, prediction and test metrics, and the stacked
ensemble."""
