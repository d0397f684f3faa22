"""The data sets of a store and the rule that picks the one a table shows.

A data set is a data kind (dataset, real or synthetic: its own MLflow experiment) and a data fingerprint
(the feature config and the content of every subject file used, so ``--subjects 1-2`` is another data
set). A table shows one data set, chosen by :func:`choose_dataset`, and lists the others in its notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.core.errors import BenchError, ConfigError
from bench.data.fingerprints import source_fingerprint
from bench.data.source import default_source, kind_words
from bench.results.naming import arg, arg_value, is_cli
from bench.tracking.store import EXPERIMENTS


def _count(n: int, noun: str) -> str:
    """``1 subject``, ``4 subjects``, ``? subjects`` (0: not known)."""
    return f"{n or '?'} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class DataSet:
    """One data set of the store: its kind, fingerprint, size (from the parents' ``bench.n_subjects``
    and ``bench.n_trials`` tags; 0 = not tagged, runs made before the tag) and finished parent runs."""

    kind: str
    fingerprint: str
    n_subjects: int
    n_trials: int
    n_runs: int
    newest: int
    """Start time (ms since the epoch) of its newest finished parent run."""
    features_source: str = ""
    """Where its features come from when not computed by the harness (``published features: SEED
    ExtractedFeatures de/psd LDS ...``, the runs' ``bench.features_source`` tag); "" for computed ones."""

    @property
    def size(self) -> str:
        """``4 subjects x 40 trials`` (``?`` for a count no run tagged)."""
        return f"{_count(self.n_subjects, 'subject')} x {_count(self.n_trials, 'trial')}"

    @property
    def label(self) -> str:
        """``synthetic, 4 subjects x 40 trials, d19101f0``: how titles name the data set."""
        return f"{kind_words(self.kind)}, {self.size}, {self.fingerprint[:8]}{self._source}"

    def describe(self) -> str:
        """``synthetic 2 subjects x 40 trials (3 runs, 1a2b3c4d)``: how notes and errors list it."""
        runs = _count(self.n_runs, "run")
        return f"{kind_words(self.kind)} {self.size} ({runs}, {self.fingerprint[:8]}{self._source})"

    @property
    def _source(self) -> str:
        """``, published features: SEED ExtractedFeatures de/psd LDS`` where its features were not computed
        (the tag's words up to their parenthesis: the runs' tags keep the windows and smoothing)."""
        return f", {self.features_source.split(' (')[0]}" if self.features_source else ""


def datasets(rows: Sequence[dict]) -> list[DataSet]:
    """The data sets of some parent runs (rows as the store reads them): kind order, then newest first."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["data_kind"], r["fingerprint"]), []).append(r)
    out = []
    for (kind, fp), g in groups.items():
        n_subjects, n_trials = (max(r[k] for r in g) for k in ("n_subjects", "n_trials"))
        source = max((r.get("features_source", "") for r in g), default="")  # one per data set (its key)
        out.append(DataSet(kind, fp, n_subjects, n_trials, len(g), max(r["start_time"] for r in g), source))
    order = {k: i for i, k in enumerate(EXPERIMENTS)}
    return sorted(out, key=lambda d: (order.get(d.kind, 99), -d.newest, d.fingerprint))


def default_data() -> list[tuple[str, str]]:
    """``[(kind, fingerprint)]`` of the data ``bench run`` uses without --deap/--synthetic (``$DEAP_DIR``,
    else the embedded synthetic default) under the default features; empty when its files are not there
    (the embedded default is never generated, nor a broken ``$DEAP_DIR`` reported, just to pick a table)."""
    try:
        source = default_source()
        return [] if source is None else [(source.kind, source_fingerprint(source))]
    except BenchError:
        return []


def choose_dataset(
    sets: Sequence[DataSet],
    *,
    data: str | None = None,
    fingerprint: str | None = None,
    default: Callable[[], list[tuple[str, str]]] = default_data,
) -> tuple[DataSet, str]:
    """The data set a table shows, and why (words for the notes). The rule:

    1. ``fingerprint`` (a prefix of one; with ``data``, of that kind): that data set; none or several
       match: a one-line :class:`ConfigError` listing them.
    2. Otherwise the data ``bench run`` uses without data options (:func:`default_data`: ``$DEAP_DIR``,
       else the embedded synthetic default, 4 subjects x 40 trials), if it has finished runs (and is of
       kind ``data`` when given).
    3. Otherwise, within kind ``data`` (default: synthetic if it has runs, else deap), the data set with
       the most finished runs; ties: the one with the newest run.

    So a small side run (``--subjects 1-2``, another folder) never hides the main results: it is listed
    in the notes, and ``--fingerprint`` shows it.
    """
    pool = [d for d in sets if data is None or d.kind == data]
    of_kind = f"{data} " if data else ""
    if fingerprint is not None:
        prefix = fingerprint.strip()
        hits = [d for d in pool if prefix and d.fingerprint.startswith(prefix)]
        if len(hits) == 1:
            return hits[0], "the one picked with --fingerprint"
        listing = "; ".join(d.describe() for d in (hits or pool))
        given = f"{arg('fingerprint')}{' ' if is_cli() else '='}{prefix!r}"
        if not hits:
            raise ConfigError(f"{given}: no {of_kind}data set with finished runs; available: {listing}")
        kinds = "|".join(k for k in EXPERIMENTS if any(d.kind == k for d in hits))
        raise ConfigError(
            f"{given} matches {len(hits)} data sets: {listing}; give more characters"
            + ("" if data else f" or {arg_value('data', kinds)}")
        )
    if len(pool) > 1:
        for kind, fp in default():
            hit = next((d for d in pool if d.kind == kind and d.fingerprint == fp), None)
            if hit is not None:
                what = "$DEAP_DIR" if kind == "deap" else "the embedded synthetic DEAP"
                return hit, f"the data `bench run` uses by default ({what})"
    kind = data or next(k for k in EXPERIMENTS if any(d.kind == k for d in pool))
    pool = [d for d in pool if d.kind == kind]
    best = max(pool, key=lambda d: (d.n_runs, d.newest))
    return best, f"the only {kind} data set" if len(pool) == 1 else f"the {kind} data set with the most runs"
