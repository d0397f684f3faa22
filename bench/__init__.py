"""deap-bench: a benchmark and model-comparison harness for EEG emotion recognition on DEAP."""

__version__ = "0.1.0"
