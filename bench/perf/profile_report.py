"""``bench perf --profile``'s report: each layer's time beside its op limit, and where the step goes.

Rendered as markdown (``-f md``, what the docs' performance page takes) or as rich tables for the terminal;
both from the same rows, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.core.terminal import NAME, NUMBER, Col, FitTable
from bench.perf.profile import LayerTiming, ModelProfile

LAYER_HEADERS = (
    "layer",
    "kind",
    "input",
    "MFLOP",
    "ms as run",
    "ms other format",
    "ms GEMM",
    "GFLOP/s",
    "% of its limit",
)


def _ms(s: float | None) -> str:
    return "" if s is None else f"{s * 1e3:.2f}"


def layer_row(lt: LayerTiming) -> tuple[str, ...]:
    """One layer: its times alone, its GFLOP/s as run and its limit's share of its time."""
    gflops = f"{lt.flops / lt.seconds / 1e9:,.0f}" if lt.compute else ""
    limit = f"{100 * lt.best_seconds / lt.seconds:.0f} %" if lt.compute else ""
    return (
        lt.name,
        lt.kind,
        "x".join(map(str, lt.input_shape)),
        f"{lt.flops / 1e6:,.1f}" if lt.compute else "",
        _ms(lt.seconds),
        _ms(lt.other_format_seconds),
        _ms(lt.gemm_seconds),
        gflops,
        limit,
    )


def title(p: ModelProfile) -> str:
    fmt = "channels-last" if p.channels_last else "NCHW"
    return f"{p.model}, {p.precision}, {fmt}, batch {p.batch}"


def summary_lines(p: ModelProfile, ceiling_gflops: float) -> list[str]:
    """Where the step's time goes, and the model against its own roofline and the matmul ceiling."""
    step = p.step_seconds

    def share(s: float) -> str:
        return f"{s * 1e3:.2f} ms ({100 * s / step:.0f} %)"

    lost = p.compute_seconds() - p.compute_best_seconds()
    outside = p.outside_layers_flops() / p.flops_per_step if p.flops_per_step else 0.0
    outside_line = (
        [
            f"{p.outside_layers_flops() / 1e6:,.0f} MFLOP of the step ({100 * outside:.0f} %) run outside "
            "any leaf layer (functional code such as a composed first block): their time is in "
            "'between ops', and the roofline covers the layers' FLOPs only."
        ]
        if outside > 0.01
        else []
    )
    return [
        f"Step {step * 1e3:.2f} ms: {p.samples_per_s():,.0f} samples/s, {p.achieved_gflops():,.0f} GFLOP/s = "
        f"{100 * p.achieved_gflops() / ceiling_gflops:.0f} % of the {p.precision} matmul ceiling "
        f"({ceiling_gflops:,.0f} GFLOP/s).",
        "Roofline (the layers' FLOPs over their best times alone): "
        f"{p.roofline_gflops():,.0f} GFLOP/s = {100 * p.roofline_gflops() / ceiling_gflops:.0f} % of the "
        + (
            f"matmul ceiling; the step reaches {100 * p.fraction_of_roofline():.0f} % of it."
            if outside <= MOSTLY_OUTSIDE
            else "matmul ceiling; not the step's limit: most of its FLOPs run outside the layers."
        ),
        f"Where the step goes: compute layers alone {share(p.compute_seconds())}, of which below their op "
        f"limit {share(lost)}; memory-bound layers {share(p.memory_bound_seconds())}; optimizer "
        f"{share(p.optimizer_seconds)}; batch gather {share(p.gather_seconds)}; between ops (casts, "
        f"reorders, loss, functional code, Python) {share(p.between_ops_seconds())}.",
        *outside_line,
    ]


MOSTLY_OUTSIDE = 0.5
"""Above this share of the step's FLOPs outside any leaf layer, the layers' roofline says nothing about
the step (ShallowConvNet: all of its convolution FLOPs are in its composed first block), so the report
gives no step-to-roofline fraction."""

NOTE = (
    "Each layer's forward + backward alone at the training batch on the input it receives in the step "
    "(forward hooks); 'other format': the same layer in the other memory format; 'GEMM': the same-size "
    "matrix products alone (forward, weight gradient, input gradient where the step computes it); "
    "% of its limit: the fastest of the three over the layer as run. Everything timed round-robin, the "
    "fastest of the rounds (what the machine does undisturbed)."
)


def markdown(profiles: Sequence[ModelProfile], ceilings: Mapping[str, float]) -> str:
    """Every profile as markdown: a title, the summary lines, the layer table; the note once."""
    lines: list[str] = []
    for p in profiles:
        lines += [f"**{title(p)}**", "", *summary_lines(p, ceilings[p.precision]), ""]
        lines += [f"| {' | '.join(LAYER_HEADERS)} |"]
        lines += ["|" + "|".join("---" if i < 3 else "---:" for i in range(len(LAYER_HEADERS))) + "|"]
        lines += [f"| {' | '.join(layer_row(lt))} |" for lt in p.layers]
        lines += [""]
    return "\n".join([*lines, NOTE])


def rich_tables(profiles: Sequence[ModelProfile], ceilings: Mapping[str, float]) -> list:
    """Every profile as a rich table (:class:`bench.core.terminal.FitTable`, folded, never cut) with its
    summary as the caption."""
    columns = [Col(h, NAME if i < 2 else NUMBER) for i, h in enumerate(LAYER_HEADERS)]
    out: list = []
    for p in profiles:
        caption = " ".join(summary_lines(p, ceilings[p.precision]))
        out.append(
            FitTable(columns, [layer_row(lt) for lt in p.layers], title=title(p), caption=caption, fold=1)
        )
    out.append(NOTE)
    return out
