"""Value checks with one message style for every user-facing setting (after MNE's ``_check_option``).

Every refused value becomes one :class:`~bench.core.errors.ConfigError` line that names the key, the value
and what is allowed, e.g. ``train.lr='fast': expected a number > 0`` or
``train.precision='fp8' is not allowed; allowed: fp32, bf16`` (with ``; did you mean 'fp32'?`` where a
value is close to an allowed one). Config dataclasses, the feature config
and the CLI call these instead of writing their own f-strings, so the messages cannot drift apart.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any

from bench.core.errors import ConfigError


def close_match(value: object, known: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` to a mistyped ``value``, or ``""`` where
    none is close (difflib's ratio >= 0.6): the hint the unknown-name and not-allowed errors share."""
    if not isinstance(value, str):
        return ""
    names = {str(k): k for k in known}
    match = difflib.get_close_matches(value, list(names), n=1)
    return f"; did you mean {names[match[0]]!r}?" if match else ""


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise a one-line ConfigError listing them."""
    allowed = tuple(allowed)
    try:
        ok = value in allowed
    except TypeError:  # unhashable or incomparable values are simply not allowed
        ok = False
    if not ok:
        raise ConfigError(
            f"{name}={value!r} is not allowed; allowed: {', '.join(map(str, allowed))}"
            f"{close_match(value, allowed)}"
        )
    return value


def _is(value: Any, kind: type) -> bool:
    """isinstance with the two exceptions config files need: bool is no number, an int is a float."""
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, numbers.Integral):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind in (float, numbers.Real):
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_type(name: str, value: Any, types: type | tuple[type | None, ...], what: str) -> Any:
    """Return ``value`` if it has one of ``types`` (``None`` in ``types`` allows None), else ConfigError.

    ``what`` says in words what is expected ("a number", "true or false", "a list of subject numbers").
    """
    kinds = types if isinstance(types, tuple) else (types,)
    if value is None and None in kinds:
        return value
    if not any(k is not None and _is(value, k) for k in kinds):
        raise ConfigError(f"{name}={value!r}: expected {what}")
    return value


def check_number(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    none_ok: bool = False,
) -> Any:
    """A finite number (an integer if ``integer``) within [low, high] (open ends where asked).

    The message states the whole rule, e.g. ``train.lr_factor=2: expected a number in (0, 1)``.
    """
    if none_ok and value is None:
        return None
    kind = "an integer" if integer else "a number"
    if low is not None and high is not None:
        rule = f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        rule = f"{kind} {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f"{kind} {'<' if high_open else '<='} {high:g}"
    else:
        rule = kind
    what = rule + (" or none" if none_ok else "")
    check_type(name, value, int if integer else float, what)
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        raise ConfigError(f"{name}={value!r}: expected {what}")
    return value


def check_name(name: str, value: Any) -> str:
    """A name of printable characters (a grid's, a study's): it is printed on terminals, in reports and
    as an MLflow run name, where a control character (an escape sequence, a newline, a bidi override)
    would rewrite the screen or split a line. Refused with one line that shows the character escaped."""
    check_type(name, value, str, "a name")
    bad = next((i for i, ch in enumerate(value) if not ch.isprintable()), None)
    if bad is not None:
        raise ConfigError(
            f"{name}={value!r}: expected a name of printable characters ({value[bad]!r} at position {bad})"
        )
    return value
