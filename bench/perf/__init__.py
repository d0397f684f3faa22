"""``bench perf``: the machine's ceiling and each layer's throughput against it."""
