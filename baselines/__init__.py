"""Baseline models, one module each; importing a module registers its models.

The model registry imports them through the ``deap_bench.models`` entry points (``pyproject.toml``, and
``BUILTIN_MODULES`` in :mod:`bench.models.registry`) in this order, after ``mtcnn``: ``4dcrnn``,
``fbccnn``, ``mccnn``, ``saelstm``, the time-domain ``eegnet``, ``shallowconvnet``, ``deepconvnet``,
``tsception``, the graph models ``dgcnn`` and ``rgnn`` (``baselines.graph`` holds what they share), then
``majority`` and ``prior``. That order is the registry's, so tables list models in
it; this package imports none of them, so the entry points alone decide it.
"""
