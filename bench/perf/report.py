"""``bench perf``'s report: the machine and ceiling in words, the throughput and full-size tables, as
markdown (what the README's Performance section takes verbatim) or rich tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from bench.core.terminal import NAME, NUMBER, Col, FitTable
from bench.perf import fullsize
from bench.perf.ceiling import fraction_of_ceiling
from bench.perf.measure import PerfReport
from bench.perf.throughput import VARIANTS
from bench.runs.estimate import TYPICAL_EPOCHS, UNIT_OVERHEAD_S, format_seconds

MODEL_HEADERS = (
    "model",
    "input",
    "parameters",
    "MFLOP/sample",
    "fp32 samples/s",
    "fp32 channels-last",
    "bf16 samples/s",
    "bf16 channels-last",
    "% fp32 ceiling",
    "% bf16 ceiling",
)


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _seconds(s: float | None) -> str:
    return "n/a" if s is None else format_seconds(s)


def _mflop(f: float) -> str:
    return f"{f / 1e6:,.1f}" if f < 10e6 else f"{f / 1e6:,.0f}"


def model_rows(r: PerfReport) -> list[tuple[str, ...]]:
    """One row per model; a % of ceiling is that precision's faster memory format."""
    rows = []
    for mp in r.models:
        fr = {p: fraction_of_ceiling(mp.flops_per_sample, mp.best(p), r.ceiling(p)) for p in ("fp32", "bf16")}
        rows.append(
            (
                mp.name,
                "x".join(map(str, mp.sample_shape)),
                f"{mp.parameters:,}",
                _mflop(mp.flops_per_sample),
                *(_num(mp.samples_per_s[k]) for k, _, _ in VARIANTS),
                f"{100 * fr['fp32']:.0f} %",
                f"{100 * fr['bf16']:.0f} %",
            )
        )
    return rows


def pool_workers(r: PerfReport) -> int:
    """Workers of the pool estimate (0 where ``bench perf`` measured none)."""
    return max((e.pool_workers for e in r.estimates), default=0)


def estimate_headers(r: PerfReport) -> tuple[str, ...]:
    protos = tuple(r.estimates[0].protocols) if r.estimates else ()
    pool = (f"grid on {pool_workers(r)} pool workers",) if pool_workers(r) else ()
    return ("model", "precision (auto)", "samples/s", *protos, f"grid {r.grid} (runs)", *pool)


def estimate_rows(r: PerfReport) -> list[tuple[str, ...]]:
    """Full-size hours per model and protocol, and the grid; a total row over the models."""
    rows = []
    for e in r.estimates:
        per = [format_seconds(s) for s in e.protocols.values()]
        rows.append(
            (
                e.model,
                e.precision,
                _num(e.train_samples_per_s),
                *per,
                f"{format_seconds(e.grid_seconds)} ({e.grid_runs})",
                *([_seconds(e.pool_grid_seconds)] if pool_workers(r) else []),
            )
        )
    if len(r.estimates) > 1:
        protos = r.estimates[0].protocols
        tot = [format_seconds(sum(e.protocols[p] for e in r.estimates)) for p in protos]
        runs = sum(e.grid_runs for e in r.estimates)
        grid = format_seconds(sum(e.grid_seconds for e in r.estimates))
        pool = [_seconds(sum(e.pool_grid_seconds or 0.0 for e in r.estimates))] if pool_workers(r) else []
        rows.append(("total", "", "", *tot, f"{grid} ({runs})", *pool))
    return rows


def header_lines(r: PerfReport) -> list[str]:
    """The machine and the ceiling in words."""
    m, s = r.machine, r.settings
    bf16 = "yes" if m["native_bf16"] else "no (bf16 is emulated: slower than fp32)"
    return [
        f"Machine: {m['cpu']}; device {m['device']}; torch {m['torch']}, {m['threads']} threads; "
        f"native bf16: {bf16}.",
        f"Ceiling ({s['matmul_size']}x{s['matmul_size']} matmul, median of {s['reps']} after warm-up, "
        f"mean of before and after the models): fp32 {r.ceiling('fp32'):,.0f} GFLOP/s "
        f"({r.ceiling_before['fp32']:,.0f} / {r.ceiling_after['fp32']:,.0f}), bf16 {r.ceiling('bf16'):,.0f} "
        f"GFLOP/s ({r.ceiling_before['bf16']:,.0f} / {r.ceiling_after['bf16']:,.0f}).",
    ]


def model_note(r: PerfReport) -> str:
    s = r.settings
    return (
        f"Training step (forward, class-weighted loss, backward, Adam) at batch {s['batch']}, random inputs; "
        f"variants timed round-robin, median of {s['reps']} rounds after {s['warmup']} warm-up steps. "
        "FLOPs: torch.utils.flop_counter over one step / batch (matmuls and convolutions). "
        "% of ceiling: achieved GFLOP/s in the faster memory format / the matmul ceiling of that precision. "
        "Channels-last: 4-D inputs into 2-D convolutions only."
    )


def estimate_note(r: PerfReport) -> str:
    s, t, w = fullsize.FULL_SIZE  # read when called: a test shrinks it
    window_s, folds = fullsize.FEATURE_WINDOW_S, fullsize.PROTOCOL_FOLDS
    return (
        f"Full size: {s} subjects x {t} trials x {w} windows (a time-domain model: its own windows of those "
        f"{w * window_s:g} s, 15 of 4 s by default), fold sizes from the protocols' own splitter; "
        f"{folds} folds, the protocol's default split; {TYPICAL_EPOCHS} epochs (typical with early "
        f"stopping) of training + validation, + {UNIT_OVERHEAD_S:.1f} s tracking per unit "
        "(bench.runs.estimate); "
        "at the measured rate of the precision --precision auto picks here, channels-last in bf16 (as the "
        "trainer runs it). whole-set-finetune: "
        f"the fine-tuning stage is not counted. Grid: the {r.grid} preset at the full scale, its runs of "
        "these models (variants at the full model's rate)."
    ) + (
        f" Pool workers: `bench reproduce --executor pool` on {pool_workers(r)} worker processes of one "
        "torch "
        "thread each, at the per-worker rates measured with all of them training at once."
        if pool_workers(r)
        else ""
    )


def markdown(r: PerfReport) -> str:
    """The whole report as markdown (what the README's Performance section takes verbatim)."""

    def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
        right = "|".join("---" if i == 0 else "---:" for i in range(len(headers)))
        return [f"| {' | '.join(headers)} |", f"|{right}|", *(f"| {' | '.join(row)} |" for row in rows)]

    lines = [*header_lines(r), "", *table(MODEL_HEADERS, model_rows(r)), "", model_note(r), ""]
    lines += [*table(estimate_headers(r), estimate_rows(r)), "", estimate_note(r)]
    return "\n".join(lines)


def rich_tables(r: PerfReport) -> list:
    """The report as rich renderables: the header lines and two tables, laid out for the terminal's width
    (:class:`bench.core.terminal.FitTable`): the columns a narrow terminal cannot hold side by side fold into
    a further table repeating the model column, so no number is ever cut."""
    out: list = ["\n".join(header_lines(r))]
    for title, headers, rows, note in (
        ("Training throughput", MODEL_HEADERS, model_rows(r), model_note(r)),
        ("Full-size wall time", estimate_headers(r), estimate_rows(r), estimate_note(r)),
    ):
        columns = [Col(h, NAME if i == 0 else NUMBER) for i, h in enumerate(headers)]  # as aligned before
        styles = ["bold" if row[0] == "total" else None for row in rows]
        out.append(FitTable(columns, rows, title=title, caption=note, styles=styles, fold=1))
    return out
