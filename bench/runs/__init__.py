"""A run from config to tracked units: identity, plan, unit, progress, executors, runner, grids, reproduce,
tuning, the time estimate."""
