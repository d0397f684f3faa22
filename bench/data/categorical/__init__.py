"""Datasets whose trials carry categorical emotion labels: the SEED family (SEED, SEED-IV, SEED-V) and
FACED. Their readers and synthetic twins live here until the task registry (k-class tasks) lets the
dataset registry take them; nothing here is registered yet.
"""
