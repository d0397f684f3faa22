"""Reading runs from MLflow into plain rows: one per finished parent run (its cell, data set, scale and
settings, from the tags the runner wrote) and one per (unit, task) with its test metrics.

Nothing is re-derived: every value comes from a tag, a param or a metric the run logged
(:mod:`bench.runs.identity` decided them when the run started). :mod:`bench.results.store` chooses
among these rows; this module only reads them.
"""

from __future__ import annotations

import json
import math

from bench.core.errors import ConfigError
from bench.core.metrics import TEST_METRICS
from bench.data.inputs import TASKS
from bench.results.where import json_value
from bench.tracking.store import EXPERIMENTS, TAG
from protocols import get_protocol


def search_all(cl, exp_id: str, filter_string: str) -> list:
    out, token = [], None
    while True:
        page = cl.search_runs([exp_id], filter_string=filter_string, max_results=5000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _nested_params(params: dict[str, str]) -> dict:
    """Flat MLflow params (``train.lr``) -> a nested dict of JSON values, for ``--where`` look-ups."""
    out: dict = {}
    for key, raw in params.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[last] = json_value(raw)
    return out


def parent_row(run) -> dict:
    t, p = run.data.tags, run.data.params
    scale = json_value(t.get(f"{TAG}scale"), {}) or {}
    protocol = t.get(f"{TAG}protocol", "?")
    try:
        per_subject = get_protocol(protocol).over_subjects
    except ConfigError:
        per_subject = False
    settings = json_value(t.get(f"{TAG}settings"), {}) or {}
    return {
        "run_id": run.info.run_id,
        "model": t.get(f"{TAG}model", "?"),
        "protocol": protocol,
        "split": t.get(f"{TAG}split", "?"),
        "audit": t.get(f"{TAG}audit", "none") or "none",
        "variant": t.get(f"{TAG}variant"),
        "run_variant": t.get(f"{TAG}variant"),
        # the training method (bench run --method): a cell key; absent on plain runs
        "method": t.get(f"{TAG}method", "none") or "none",
        "method_label": t.get(f"{TAG}method_label", ""),
        "transductive": t.get(f"{TAG}transductive", "false") == "true",
        "source": _source(run),
        "leaky": t.get(f"{TAG}leaky", "false") == "true",
        "fingerprint": t.get(f"{TAG}data_fingerprint", "?"),
        "data_kind": t.get(f"{TAG}data_kind", "?"),
        "code_version": t.get(f"{TAG}code_version", "?"),
        "folds_fp": t.get(f"{TAG}folds_fingerprint", ""),
        "settings": settings,
        "scale": scale,
        "scale_sig": json.dumps({k: v for k, v in settings.items() if k in scale}, sort_keys=True),
        "tuned": t.get(f"{TAG}tuned_from", ""),
        "n_subjects": int(t.get(f"{TAG}n_subjects", "0") or 0),
        "n_trials": int(t.get(f"{TAG}n_trials", "0") or 0),
        "features_source": t.get(f"{TAG}features_source", ""),
        "n_folds": int(scale.get("n_folds") or 0),
        "seed": int(scale.get("seed") or 0),
        "subjects": scale.get("subjects"),
        "epochs": scale.get("train.max_epochs"),
        "start_time": int(run.info.start_time or 0),
        "end_time": int(run.info.end_time or 0),
        "per_subject": per_subject,
        "config": _nested_params(p),
        "tags": {k.removeprefix(TAG): v for k, v in t.items() if k.startswith(TAG)},
    }


def _source(run) -> str:
    """The folder the run read its data from (its MLflow dataset input; ``a -> b`` for a cross-dataset
    pair), or "" where it was not recorded (a run on the feature cache alone)."""
    for item in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or ():
        uri = json_value(getattr(item.dataset, "source", None), {})
        if isinstance(uri, dict) and uri.get("uri") and uri["uri"] != "feature cache":
            return str(uri["uri"])
    return ""


def unit_rows(run) -> list[dict]:
    """One row per (unit, task) with its test metrics; a cross-dataset unit (which logs every metric per
    test subject, ``..._sNN``) gives one row per (unit, task, test subject) instead."""
    t, m = run.data.tags, run.data.metrics
    key = t.get(f"{TAG}unit", run.info.run_name or "")
    subj = t.get(f"{TAG}subject", "")
    tasks = [x for x in t.get(f"{TAG}tasks", ",".join(TASKS)).split(",") if x]
    end, start = run.info.end_time, run.info.start_time
    wall = (end - start) / 1000 if end and start else math.nan
    per_subject = sorted(k.removeprefix("n_test_trials_") for k in m if k.startswith("n_test_trials_s"))
    rows = []
    for task in tasks:
        if f"test_acc_{task}" not in m:
            continue
        base = key.removesuffix("-valence").removesuffix("-arousal")
        row = {
            "parent_id": t.get("mlflow.parentRunId"),
            "unit": key,
            "base": base,
            "fold": int(t.get(f"{TAG}fold", "0") or 0),
            "subject": int(subj) if subj.strip().isdigit() else None,
            "task": task,
        }
        if per_subject:
            for tag in per_subject:
                sub = {**row, "base": f"{base}-{tag}", "subject": int(tag[1:])}
                sub.update({k: float(m.get(f"test_{k}_{task}_{tag}", math.nan)) for k in TEST_METRICS})
                sub["n_test"], sub["n_test_trials"] = m.get(f"n_test_{tag}"), m.get(f"n_test_trials_{tag}")
                sub.update(n_test_subjects=1.0, n_train=float(m.get("n_train", math.nan)))
                sub.update(fit_seconds=float(m.get("fit_seconds", math.nan)), wall_seconds=wall)
                sub["subject_acc"] = {}
                rows.append(sub)
            continue
        row.update({k: float(m.get(f"test_{k}_{task}", math.nan)) for k in TEST_METRICS})
        for k in ("n_train", "n_test", "n_test_trials", "n_test_subjects", "fit_seconds"):
            row[k] = float(m.get(k, math.nan))
        row["wall_seconds"] = wall
        row["subject_acc"] = subject_accuracies(m, task)
        rows.append(row)
    return rows


def subject_accuracies(metrics: dict, task: str) -> dict[int, float]:
    """A pooled unit's accuracy per test subject (``test_acc_<task>_sNN``, which the runner logs for
    pooled protocols so that a split by subject can be summarised over subjects), ``{subject: acc}``;
    empty where the unit logged none (a per-subject unit; a run older than those metrics)."""
    prefix = f"test_acc_{task}_s"
    return {
        int(k.removeprefix(prefix)): float(v)
        for k, v in metrics.items()
        if k.startswith(prefix) and k.removeprefix(prefix).isdigit()
    }


FINISHED_PARENTS = f"tags.`{TAG}role` = 'parent' and attributes.status = 'FINISHED'"


def finished_parents(cl) -> dict[str, tuple[str, list[dict]]]:
    """Per data kind with finished parent runs: its experiment id and those runs (one row each)."""
    out = {}
    for kind, name in EXPERIMENTS.items():
        exp = cl.get_experiment_by_name(name)
        if exp is not None and (runs := search_all(cl, exp.experiment_id, FINISHED_PARENTS)):
            out[kind] = (exp.experiment_id, [parent_row(r) for r in runs])
    return out


def finished_units(cl, exp_id: str) -> list:
    """The finished unit runs of an experiment, newest first."""
    units = search_all(cl, exp_id, f"tags.`{TAG}role` = 'unit' and attributes.status = 'FINISHED'")
    units.sort(key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
    return units


UNIT_COLS = [
    "parent_id",
    "unit",
    "base",
    "fold",
    "subject",
    "task",
    *TEST_METRICS,
    "n_train",
    "n_test",
    "n_test_trials",
    "n_test_subjects",
    "fit_seconds",
    "wall_seconds",
    "subject_acc",
]
"""The unit frame's columns; ``subject_acc`` (last) is a pooled unit's ``{test subject: accuracy}``."""
