"""``bench perf``'s report: the machine and ceiling in words, the throughput and full-size tables, as
markdown (what the docs' performance page takes verbatim) or rich tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from bench.core.terminal import NAME, NUMBER, Col, FitTable
from bench.perf import fullsize
from bench.perf.ceiling import fraction_of_ceiling
from bench.perf.measure import PerfReport
from bench.perf.memory import MEMORY_LIMIT_BYTES, TRAINING_STEPS, UnitMemory
from bench.perf.piece import TOLERANCE as PIECE_TOLERANCE
from bench.perf.piece import Piece
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
    """The whole report as markdown (what the docs' performance page takes verbatim)."""

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


# ------------------------------------------------------------------ --memory and --piece (optional tables)
MEMORY_HEADERS = (
    "model",
    "precision",
    "windows train / val / test",
    "input MB",
    "baseline MB",
    "peak MB",
    "unit MB",
    f"under {MEMORY_LIMIT_BYTES / 1e9:g} GB",
)
PIECE_HEADERS = (
    "part",
    "windows",
    "measured",
    "estimated",
    "fit samples/s",
    "rate used",
    "estimate / measured",
)


def _mb(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 1e6:,.0f}"


def memory_rows(memory: Sequence[UnitMemory]) -> list[tuple[str, ...]]:
    """One row per model: resident MB after the child's imports, at its peak and their difference (what
    the unit itself needs); a child that raised or died says so in place of its numbers."""
    rows = []
    for m in memory:
        w = m.windows
        head = (m.model, m.precision + (", channels-last" if m.channels_last else ""),
                f"{w['train']:,} / {w['val']:,} / {w['test']:,}", _mb(m.input_bytes))  # fmt: skip
        if m.error is not None or m.peak_bytes is None or m.baseline_bytes is None:
            rows.append((*head, "n/a", m.error or "n/a", "n/a", "n/a"))
            continue
        unit = m.peak_bytes - m.baseline_bytes
        verdict = "NO: over the limit" if m.over_limit else "yes"
        rows.append((*head, _mb(m.baseline_bytes), _mb(m.peak_bytes), _mb(unit), verdict))
    return rows


def memory_note(memory: Sequence[UnitMemory]) -> str:
    s, t, w = fullsize.FULL_SIZE  # read when called: a test shrinks it
    over = [m.model for m in memory if m.over_limit]
    failed = [m.model for m in memory if m.error is not None]
    verdict = (
        f"Over {MEMORY_LIMIT_BYTES / 1e9:g} GB: {', '.join(over)}."
        if over
        else f"Every measured unit stays under {MEMORY_LIMIT_BYTES / 1e9:g} GB."
    )
    if failed:
        verdict += f" No measurement: {', '.join(failed)}."
    return (
        f"Peak resident memory (MB = 10^6 bytes) of fold 1 of a whole-set run at full size ({s} subjects x "
        f"{t} trials x {w} windows; a time-domain model on its own windows), one fresh spawned child per "
        "model: the input and the unit's training, validation and test parts as a run holds them (random "
        f"float32), the model as a run builds it, {TRAINING_STEPS} training steps of the trainer's fit and "
        "one prediction pass over the validation part, at the run's precision and memory format. Baseline: "
        "the child after importing torch and the project; unit: peak - baseline. Peak: the child's own "
        "high-water mark (VmHWM; a spawned child's ru_maxrss starts at its parent's peak). " + verdict
    )


def _secs(s: float) -> str:
    return f"{s:,.1f} s" if s >= 1 else f"{s:.3f} s"  # a small test piece takes milliseconds


def _ratio(est: float, measured: float) -> str:
    return f"{est / measured:.2f}" if measured > 0 else "n/a"


def piece_rows(p: Piece) -> list[tuple[str, ...]]:
    """The piece's training and validation terms and the epoch: measured and estimated seconds, the rate
    the fit ran at beside the rate the estimate used, and their ratio; the term that is off shows."""
    rows = []
    for part, n, measured, est, used in (
        ("training", p.windows["train"], p.measured_train_s, p.estimated_train_s, p.train_samples_per_s),
        ("validation", p.windows["val"], p.measured_val_s, p.estimated_val_s, p.predict_samples_per_s),
    ):
        rate = n / measured if measured > 0 else None
        rows.append((part, f"{n:,}", _secs(measured), _secs(est), _num(rate), _num(used),
                     _ratio(est, measured)))  # fmt: skip
    n = p.windows["train"] + p.windows["val"]
    rows.append(("epoch", f"{n:,}", _secs(p.measured_s), _secs(p.estimated_s), "", "",
                 _ratio(p.estimated_s, p.measured_s)))  # fmt: skip
    return rows


def piece_note(p: Piece) -> str:
    layout = ", channels-last" if p.channels_last else ""
    verdict = "within" if p.within else "OUTSIDE"
    return (
        f"One epoch of {p.model}'s whole-set fold 1 at full size, timed: the trainer's fit, max_epochs 1, "
        f"batch {p.batch}, {p.precision}{layout}, on random data (training: from calling fit to its last "
        "batch, set-up included; validation: the rest). Estimated: bench.runs.estimate.estimate_run's "
        "epoch at the rates measured above (training windows / training rate + validation windows / "
        f"prediction rate). Median batch of the fit: {_num(p.fit_train_samples_per_s)} samples/s. "
        f"Estimate / measured {p.ratio:.2f}: {verdict} +-{100 * PIECE_TOLERANCE:.0f} %."
    )


def extras_markdown(memory: Sequence[UnitMemory] | None, piece: Piece | None) -> str:
    """The ``--memory`` and ``--piece`` tables as markdown ("" without either), after :func:`markdown`."""
    lines: list[str] = []
    if memory:
        lines += ["", *_md_table(MEMORY_HEADERS, memory_rows(memory)), "", memory_note(memory)]
    if piece is not None:
        lines += ["", *_md_table(PIECE_HEADERS, piece_rows(piece)), "", piece_note(piece)]
    return "\n" + "\n".join(lines) if lines else ""  # a blank line after markdown()'s last paragraph


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    right = "|".join("---" if i == 0 else "---:" for i in range(len(headers)))
    return [f"| {' | '.join(headers)} |", f"|{right}|", *(f"| {' | '.join(row)} |" for row in rows)]


def extras_tables(memory: Sequence[UnitMemory] | None, piece: Piece | None) -> list:
    """The ``--memory`` and ``--piece`` tables as rich renderables, after :func:`rich_tables`."""
    parts = []
    if memory:
        parts.append(("Peak memory of a whole-set unit", MEMORY_HEADERS, memory_rows(memory),
                      memory_note(memory)))  # fmt: skip
    if piece is not None:
        parts.append((f"Full-size piece: {piece.model}", PIECE_HEADERS, piece_rows(piece), piece_note(piece)))
    out = []
    for title, headers, rows, note in parts:
        columns = [Col(h, NAME if i == 0 else NUMBER) for i, h in enumerate(headers)]
        out.append(FitTable(columns, rows, title=title, caption=note, fold=1))
    return out


def extras_json(d: dict, memory: Sequence[UnitMemory] | None, piece: Piece | None) -> dict:
    """``d`` (:meth:`PerfReport.to_json`) with ``memory`` (per model, bytes, and ``over_limit``) and
    ``piece`` (seconds, ratio, verdict) where they were measured; ``d`` unchanged without them."""
    if memory:
        d["memory_limit_bytes"] = MEMORY_LIMIT_BYTES
        d["memory"] = [{**asdict(m), "over_limit": m.over_limit} for m in memory]
    if piece is not None:
        d["piece"] = piece.to_json()
    return d
