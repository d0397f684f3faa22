"""Progress callbacks of a run: the plan, each unit's start and epochs, each finished unit.

It lives in its own module so that :mod:`bench.unit` (which reports epochs) and the runner
(``bench/runner.py``, which reports the plan and finished units) both import it, and the unit layer
never has to import the runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.plan import Unit
    from bench.unit import UnitResult


class Reporter:
    """Progress callbacks; the CLI draws them with rich, library users may subclass or ignore."""

    def note(self, message: str) -> None: ...
    def plan(self, n_units: int, n_done: int) -> None: ...
    def unit_start(self, unit: Unit, max_epochs: int) -> None: ...
    def epoch(self, unit: Unit, row: dict) -> None: ...
    def unit_end(self, result: UnitResult) -> None: ...
