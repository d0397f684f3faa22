"""The model registry, the layers the Keras-born models share (``layers``), the training recipes and the
``bench models`` view. ``mtcnn/`` and ``baselines/`` register their models here, found through the
``deap_bench.models`` entry points; they import only this layer, ``bench.data`` and ``bench.core``."""
