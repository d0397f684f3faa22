"""The model registry, the training recipes and the ``bench models`` view; ``mtcnn/`` and ``baselines/``
register their models here."""
