"""``bench perf``: the machine and its matmul ceiling (ceiling), each model's training throughput against
it (throughput), full-size wall time (fullsize), one run (measure), its report (report); bf16 parity
(parity)."""
