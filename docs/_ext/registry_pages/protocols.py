"""The protocols page: every registered protocol, with what it pools and splits, what a run of it needs,
its leakage note and whether it is transductive; then the audits a run may ask for.

Read from each :class:`protocols.base.Protocol` of :func:`protocols.list_protocols` (its attributes and
properties, the very ones the harness asks it) and from :data:`protocols.LEAKAGE_NOTE`.
"""

from __future__ import annotations

from bench.config.run import AUDITS
from bench.data.datasets import get_dataset
from protocols import LEAKAGE_NOTE, Protocol, list_protocols
from protocols.base import LEAKY_SPLITS, MECHANISMS
from registry_pages.markup import code, code_block, fields, generated_note, heading, page, table, text

TRANSDUCTIVE_ATTRIBUTE = "transductive"
"""A protocol that fits anything on the test part's inputs (transductive) says so with this attribute set
True; the built-ins have none, so they show "no"."""


def _needs(p: Protocol) -> list[str]:
    """What a run of ``p`` needs or implies, in words, from the protocol's own flags."""
    needs = []
    if p.two_datasets:
        needs.append("a test dataset (`--test NAME`): it trains on one dataset and tests on another")
    if p.folds_from_subjects:
        needs.append("folds are subjects: `--folds` = the number of subjects is leave-one-subject-out")
    if p.finetune:
        needs.append("pretrains on the pooled training part, then fine-tunes one copy per subject")
    if not p.stackable:
        needs.append("its units cannot be stacked (`train.stack`)")
    if p.experiment_kind:
        needs.append(f"its runs are tracked apart, as data kind `{p.experiment_kind}`")
    return needs or ["one dataset (`--dataset NAME`, default deap); nothing else"]


def _splits(p: Protocol) -> str:
    return ", ".join(code(s) + (" (default)" if s == p.default_split else "") for s in p.splits)


def protocol_section(p: Protocol) -> str:
    """One protocol: population, split units, needs, statistics unit, leakage note, transductive or not."""
    leaky = [s for s in p.splits if s in LEAKY_SPLITS]
    if p.audit_only:
        leakage = _peer_leakage(p)
    else:
        leakage = text(LEAKAGE_NOTE) if leaky else "no leaky split unit offered"
    transductive = bool(getattr(p, TRANSDUCTIVE_ATTRIBUTE, False))
    rows = [
        ("name", f"{code(p.name)} ({code(f'--protocol {p.name}')})"),
        ("what", text(p.description)),
        ("population", text(p.population)),
        ("split units", _splits(p)),
        ("needs", "; ".join(text(n) for n in _needs(p))),
        ("statistics over", "subjects" if p.over_subjects else "folds"),
        ("leakage", leakage),
        (
            "transductive",
            "**yes**: it uses the test part's inputs (not its labels) when fitting; named so in tables"
            if transductive
            else "no: nothing of the test part (inputs or labels) is used to fit the model",
        ),
    ]
    if p.audit_only:
        rows += _peer_rows(p)
    return page(heading(p.name, 2, target=f"protocol-{p.name}"), fields(rows))


def _peer_leakage(p: Protocol) -> str:
    """A peer protocol's mechanisms in words, and whether its runs are leaky."""
    if not p.mechanisms:
        return "none: a reference row of the protocol audit"
    words = ", ".join(MECHANISMS[m] for m in p.mechanisms)
    if p.leaky:
        return f"**leaky** ({text(words)}): its runs are tagged leaky and shown in the protocol audit only"
    return f"{text(words)}: not a leak of the test part; shown in the protocol audit only"


def _peer_rows(p: Protocol) -> list[tuple[str, str]]:
    """A peer protocol's source, datasets, selection rule and honest counterpart."""
    src = p.source
    rows = [
        ("reproduces", f"{text(src.cite())}: " + ", ".join(code(line) for line in src.lines)),
        ("runs on", text(", ".join(get_dataset(n).title for n in p.used_on))),
        ("model selection", text(p.selection) + " (no early stopping, no plateau schedule)"),
    ]
    if p.counterpart:
        rows.append(("honest counterpart", f"[{text(p.counterpart)}](#protocol-{p.counterpart})"))
    return rows


def protocols_page() -> str:
    """The page: a summary table, one section per registered protocol, then the audits."""
    summary = [
        (f"[{text(p.name)}](#protocol-{p.name})", text(p.population), _splits(p), text(p.description))
        for p in list_protocols()
    ]
    audits = [(code(a), code(f"--audit {a}")) for a in AUDITS]
    return page(
        heading("Protocols", target="protocols-page"),
        generated_note("the protocol registry (protocols.registry)"),
        text(
            "A protocol says who is pooled, what is kept together in a fold (the split unit) and what a "
            "run of it asks for. Every registered protocol:"
        ),
        table(("protocol", "population", "split units", "what"), summary, escaped=True),
        *(protocol_section(p) for p in list_protocols()),
        heading("Audits", 2, target="protocol-audits"),
        text(
            "The protocols marked *reproduces* follow a peer benchmark's public code (LibEER, TorchEEG, "
            "EEG-FM-Bench, AdaBrain-Bench, EEGain): their runs appear in the protocol audit table only "
            "(`bench table protocols-audit`), beside their honest counterpart (user guide, Protocols and "
            "splits)."
        ),
        text(
            "An audit reproduces a known flaw on purpose, to measure it: with select-on-test the validation "
            "part is the test part (model selection on the test fold, as the MT-CNN authors' code did). "
            "Audited runs are leaky by construction: the leakage table shows them beside the leak-free "
            "runs, as the size of the leak."
        ),
        table(("audit", "option"), audits, escaped=True),
        code_block(
            "bench run --model mtcnn --protocol whole-set --split segment --audit select-on-test", "bash"
        ),
    )
