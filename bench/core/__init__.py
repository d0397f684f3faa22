"""The foundation every layer stands on. Imports nothing else of the project.

- ``errors``, ``checks``: user errors (one line, no traceback) and the one "value not allowed" check,
  with a close-match hint;
- ``files``, ``faults``: atomic writes and the fault lines of the environment (read-only, full disk);
- ``host``: the machine a run executes on (device, usable cores, native bf16, CPU name);
- ``metrics``: the one decision rule and the test metrics every unit logs;
- ``pool``: the one way to start, interrupt and stop a pool of worker processes;
- ``registry``: the one registry mechanism (models, datasets, protocols, tables) with entry points;
- ``stats``, ``terminal``, ``plots``: statistics, terminal tables, plot helpers.
"""
