"""Grid declaration: the TOML format, presets, scales, dedup, skipped variants, and that entries plan."""

from __future__ import annotations

import pytest

from bench.config.ablation import VARIANTS
from bench.core.errors import ConfigError
from bench.models.registry import list_models
from bench.runs.grid import GRID_SCALES, PRESETS, SCALES, Scale, load_grid, preset_text, subject_folds
from protocols import get_protocol

MODELS = [m.name for m in list_models() if m.input_spec.layout != "signal"]
"""The models of the rudakov2021 preset: every brain-map model (the time-domain ones are not the paper's)."""


def write(tmp_path, text: str, name: str = "g.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_a_grid_file(tmp_path):
    path = write(
        tmp_path,
        """
        [scale]
        subjects = "1,3-4"
        n_folds = 2
        max_epochs = 3
        seeds = [0, 1]
        [data]
        deap = "deap-folder"
        [[runs]]
        models = ["mtcnn", "majority"]
        protocols = "whole-set"
        splits = ["trial", "segment"]
        """,
        "mine.toml",
    )
    g = load_grid(path=path)
    assert g.name == "mine" and g.scale_name == "custom"
    assert g.scale == Scale((1, 3, 4), 2, 3, (0, 1))
    assert g.deap == str(tmp_path / "deap-folder")
    assert [e.label for e in g.entries] == [
        f"{m}|whole-set|{sp}|full{s}"
        for m in ("mtcnn", "majority")
        for sp in ("trial", "segment")
        for s in ("", "|seed1")
    ]
    for e in g.entries:
        c = e.config
        assert (c.n_folds, c.subjects, c.train.max_epochs, c.seed) == (2, (1, 3, 4), 3, e.seed)
    # CLI overrides: --scale replaces the file's scale, --deap its [data], seeds the seeds
    g = load_grid(path=path, scale="smoke", deap="/data/DEAP", seeds=[7])
    assert g.scale_name == "smoke" and g.deap == "/data/DEAP"
    assert {(e.config.n_folds, e.config.subjects, e.config.train.max_epochs, e.seed) for e in g.entries} == {
        (2, (1, 2, 3), 1, 7)
    }
    assert all(e.label.endswith("|seed7") for e in g.entries)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[runs]]\nmodels = 'all'\nprotocols = ['whole-set']\nfoo = 1", "runs[1] key='foo' is not allowed"),
        ("bar = 1\n[[runs]]\nmodels = 'all'\nprotocols = 'whole-set'", "grid file key='bar' is not allowed"),
        ("[[runs]]\nmodels = ['nope']\nprotocols = 'whole-set'", "runs[1].models='nope' is not allowed"),
        ("[[runs]]\nmodels = 'all'\nprotocols = ['x']", "runs[1].protocols='x' is not allowed"),
        (
            "[[runs]]\nmodels = 'all'\nprotocols = 'cross-subject'\nsplits = 'trial'",
            "runs[1].splits (protocol cross-subject)='trial' is not allowed; allowed: subject",
        ),
        ("[[runs]]\nmodels = 'all'\nprotocols = 'whole-set'\nvariants = ['x']", "runs[1].variants='x'"),
        ("[[runs]]\nmodels = 'all'\nprotocols = 'whole-set'\naudits = ['y']", "runs[1].audits='y'"),
        ("[[runs]]\nmodels = 'all'", "runs[1]: 'models' and 'protocols' are required"),
        ("[[runs]]\nmodels = []\nprotocols = 'whole-set'", "runs[1].models=[]: expected"),
        ("name = 'x'", "runs=None: expected one or more [[runs]] tables"),
        ("scale = 'huge'\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "scale='huge' is not allowed"),
        ("[scale]\nn_folds = 1\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "scale.n_folds=1: expected"),
        ("[scale]\nsubjects = '0-3'\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "scale.subjects='0-3'"),
        ("[scale]\nseeds = []\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "scale.seeds=[]: expected"),
        ("[scale]\nepochs = 2\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "[scale] key='epochs'"),
        ("[data]\ndeap = 3\n[[runs]]\nmodels='all'\nprotocols='whole-set'", "data.deap=3: expected"),
        ("[[runs]\nmodels = 'all'", "not valid TOML"),
    ],
)
def test_bad_values_are_one_line_naming_file_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_grid(path=path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ") and expected in msg, msg


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.toml: cannot read grid file"):
        load_grid(path=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="scale='huge' is not allowed; allowed: smoke, small, full"):
        load_grid(scale="huge")
    with pytest.raises(ConfigError, match="preset='x' is not allowed; allowed: rudakov2021"):
        load_grid(preset="x")
    with pytest.raises(ConfigError, match="preset rudakov2021: seeds=-1: expected an integer >= 0"):
        load_grid(seeds=range(-1, 0))
    with pytest.raises(ConfigError, match="exclude each other"):
        load_grid(preset="rudakov2021", path=tmp_path / "g.toml")


@pytest.fixture(scope="module")
def preset():
    return load_grid()


def test_preset_expands_to_the_papers_runs(preset):
    assert "[[runs]]" in preset_text("rudakov2021")
    assert set(PRESETS) == {
        "rudakov2021",
        "future-work",
        "seed",
        "seed-iv",
        "seed-v",
        "faced",
        "subject-independent",
        "peer-protocols",
    }
    g = preset
    labels = [e.label for e in g.entries]
    assert len(labels) == len(set(labels)) == 42
    assert len({e.config.fingerprint() for e in g.entries}) == 42
    assert g.scale_name == "small" and g.scale == SCALES["small"] and g.deap is None
    for label in (
        "mtcnn|whole-set|trial|full",
        "prior|subject-specific|trial|full",
        "4dcrnn|whole-set|segment|full|select-on-test",
        "mtcnn|whole-set|trial|no-balance",
        "saelstm|cross-subject|subject|full",
    ):
        assert label in labels
    assert labels.count("mtcnn|whole-set|trial|full") == 1  # the ablation's full is the comparison's run
    assert g.skipped == ()


def test_future_work_preset_runs_the_new_models_and_variants():
    """The time-domain models beside MT-CNN under both protocols, and MT-CNN's fusion and extra-kind
    variants: 15 runs, nothing skipped, every variant a distinct config."""
    g = load_grid(preset="future-work")
    labels = [e.label for e in g.entries]
    assert len(labels) == len({e.config.fingerprint() for e in g.entries}) == 15 and g.skipped == ()
    for model in ("mtcnn", "eegnet", "shallowconvnet", "deepconvnet", "tsception", "majority"):
        for protocol in ("subject-specific", "whole-set"):
            assert f"{model}|{protocol}|trial|full" in labels
    for variant in ("peripheral", "plus-dasm", "plus-hjorth"):
        assert f"mtcnn|whole-set|trial|{variant}" in labels
    by_label = {e.label: e.config for e in g.entries}
    assert by_label["mtcnn|whole-set|trial|peripheral"].model_options == {"peripheral": True}
    assert by_label["mtcnn|whole-set|trial|plus-dasm"].features == ("de", "psd", "dasm")


def test_preset_covers_every_table_cell(preset):
    """The (model, protocol, split, audit, variant) cells each paper table reads (bench/results)."""
    from bench.results.leakage import SETTINGS
    from bench.results.protocols import PAPER_PAIR

    entries = preset.entries
    have = {(e.model, e.protocol, e.split, e.audit, e.variant) for e in entries}
    leak_free = {(e.protocol, e.split) for e in entries if e.audit == "none" and e.split != "segment"}
    assert leak_free == {("subject-specific", "trial"), ("whole-set", "trial"), ("cross-subject", "subject")}
    need = {(m, pr, sp, "none", "full") for m in MODELS for pr, sp in leak_free}  # comparison
    need |= {(m, pr, "trial", "none", "full") for m in MODELS for pr in PAPER_PAIR}  # protocols (A)
    need |= {(m, pr, sp, au, "full") for m in ("mtcnn", "4dcrnn") for pr in PAPER_PAIR for sp, au in SETTINGS}
    need |= {("mtcnn", "whole-set", "trial", "none", v) for v in VARIANTS}  # ablation
    assert need <= have, need - have
    assert have <= need, have - need


def test_dedup_and_skipped_variants(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        """
        [[runs]]
        models = ["majority", "4dcrnn", "fbccnn", "mtcnn"]
        protocols = "whole-set"
        variants = "all"
        [[runs]]
        models = "mtcnn"
        protocols = "whole-set"
        splits = "trial"
        """,
    )
    g = load_grid(path=path)
    labels = [e.label for e in g.entries]
    assert labels == [
        "majority|whole-set|trial|full",
        "4dcrnn|whole-set|trial|full",
        "4dcrnn|whole-set|trial|no-lr-decay",
        "4dcrnn|whole-set|trial|no-balance",
        "fbccnn|whole-set|trial|full",
        "fbccnn|whole-set|trial|no-lr-decay",
        "fbccnn|whole-set|trial|no-batch-norm",
        "fbccnn|whole-set|trial|no-balance",
        *[f"mtcnn|whole-set|trial|{v}" for v in VARIANTS],
    ]
    why = dict(g.skipped)
    assert len(g.skipped) == 7 + 5 + 4
    assert "trivial baseline" in why["majority|whole-set|trial|no-dropout"]
    assert "takes de, not de+psd" in why["4dcrnn|whole-set|trial|only-psd"]
    assert "single-task already" in why["4dcrnn|whole-set|trial|single-task"]
    assert "has no dropout" in why["4dcrnn|whole-set|trial|no-dropout"]
    assert "has no batch norm" in why["4dcrnn|whole-set|trial|no-batch-norm"]
    assert "takes psd, not de+psd" in why["fbccnn|whole-set|trial|only-de"]
    assert all("\n" not in r for r in why.values())
    # without the feature rule, 4D-CRNN's only-de resolves to its full run: kept once, said so
    monkeypatch.setattr("bench.runs.grid._skip_reason", lambda model, variant: None)
    why = dict(load_grid(path=path).skipped)
    assert why["4dcrnn|whole-set|trial|only-de"] == "same run as 4dcrnn|whole-set|trial|full"


@pytest.mark.parametrize("scale", GRID_SCALES)
def test_scales_apply_to_every_config(scale, preset):
    g = preset if scale == "small" else load_grid(preset="rudakov2021", scale=scale)
    sc = SCALES[scale]
    assert g.scale == sc and len(g.entries) == 42
    for e in g.entries:
        c = e.config
        assert (c.subjects, c.train.max_epochs, c.seed) == (sc.subjects, sc.max_epochs, 0)
        # folds by subject: capped at the subjects known without reading data (4: embedded default);
        # leave-one-subject-out where fewer folds would leave one training subject (smoke: 3 subjects)
        assert c.n_folds == (subject_folds(sc.n_folds, len(sc.subjects or range(4))) if e.split == "subject"
                             else sc.n_folds)  # fmt: skip
    if scale == "full":
        g = load_grid(scale="full", deap="/data/DEAP")
        assert {e.config.n_folds for e in g.entries} == {5}


def test_subject_folds_keep_a_validation_subject_in_every_training_part():
    assert [subject_folds(2, n) for n in (2, 3, 4, 5)] == [2, 3, 2, 2]
    assert subject_folds(5, 32) == 5 and subject_folds(5, 4) == 4 and subject_folds(5, 6) == 5


UNITS_SMOKE = 120 + 48 + 16 + 45
"""rudakov2021 at smoke scale, counted by hand: trial split (9 models x 2 protocols: 3 one-unit models x
(6 + 2), 6 single-task models x 2 tasks x (6 + 2)), segment split and audit (mtcnn 2 x 8, 4dcrnn 2 x 16),
ablation (6 variants x 2 + single-task 4), cross-subject (3 x 3 + 6 x 2 x 3)."""


def test_smoke_preset_plans_and_matches_bench_run_keys():
    """Every entry plans on the embedded default; a grid entry is the same run as its `bench run`."""
    from bench.api.settings import build_config
    from bench.config.run import RunConfig
    from bench.runs.plan import prepare

    g = load_grid(scale="smoke")
    features, units = None, 0
    plans = {}
    for e in g.entries:
        p = prepare(e.config, features=features, synthetic=None if features else g.scale.synthetic())
        features = p.features
        assert (
            p.config == e.config
            and p.split == e.split
            and p.leaky == (e.split == "segment" or e.audit != "none")
        )
        units += len(p.units)
        plans[e.label] = p
    assert features.kind == "synthetic" and sorted(set(features.subjects)) == [1, 2, 3]
    # subject-specific 3 subjects x 2 folds, pooled 2 folds, cross-subject 3 (LOSO); single-task models:
    # one unit per task
    assert units == UNITS_SMOKE

    flags = {
        "mtcnn|whole-set|trial|no-dropout": dict(model="mtcnn", protocol="whole-set", dropout=0.0),
        "4dcrnn|subject-specific|segment|full|select-on-test": dict(
            model="4dcrnn", protocol="subject-specific", split="segment", audit=("select-on-test",)
        ),
        "prior|cross-subject|subject|full": dict(model="prior", protocol="cross-subject"),
        "mtcnn|whole-set|trial|only-de": dict(model="mtcnn", protocol="whole-set", features=("de",)),
    }
    for label, f in flags.items():
        train = {"max_epochs": 1, "dropout": f.pop("dropout", None)}
        d = build_config(
            {},
            train=train,
            feature_config={},
            model_options={},
            n_folds=3 if "cross" in label else 2,
            seed=0,
            subjects=(1, 2, 3),
            **f,
        )
        assert prepare(RunConfig.from_dict(d), features=features).run_key == plans[label].run_key, label


@pytest.mark.parametrize(
    ("name", "protocols"),
    [
        ("seed", ("session-trials", "cross-session", "loso-session")),
        ("seed-iv", ("session-trials", "cross-session", "loso-session")),
        ("seed-v", ("session-trials", "cross-session", "loso-session")),
        ("faced", ("subject-holdout", "cross-subject")),
    ],
)
def test_each_categorical_dataset_has_a_grid_of_its_standard_comparison(name, protocols):
    """Every brain-map model, every time-domain model (on each clip's 128 Hz signal) and both trivial
    baselines under the dataset's published protocols, on the dataset itself (its twin without a
    folder)."""
    g = load_grid(preset=name)
    assert g.dataset == name and g.skipped == ()
    brain_map = ("mtcnn", "4dcrnn", "fbccnn", "mccnn", "saelstm", "dgcnn", "rgnn")
    time_domain = ("eegnet", "shallowconvnet", "deepconvnet", "tsception")
    models = (*brain_map, *time_domain, "majority", "prior")
    assert len(g.entries) == len(models) * len(protocols)
    assert {(e.config.model, e.config.protocol) for e in g.entries} == {
        (m, p) for m in models for p in protocols
    }
    assert all(e.config.dataset == name for e in g.entries)


def test_peer_protocols_preset_runs_each_peer_where_its_benchmark_did():
    """On DEAP: LibEER's, TorchEEG's and EEGain's protocols beside their counterparts; with --dataset seed:
    LibEER's front/back, TorchEEG's, EEG-FM-Bench's and AdaBrain-Bench's; the rest skipped with the reason."""
    deap = load_grid(preset="peer-protocols")
    assert {e.protocol for e in deap.entries} == {
        "libeer-deap-kfold", "libeer-deap-random", "torcheeg-kfold", "eegain-loto",
        "subject-specific", "whole-set", "cross-subject",
    }  # fmt: skip
    assert {e.model for e in deap.entries} == {"mtcnn", "dgcnn", "majority"}
    reasons = dict(deap.skipped)
    assert "LibEER's protocol on SEED, SEED-IV; not on DEAP" in reasons["dgcnn|libeer-front-back|trial|full"]
    seed = load_grid(preset="peer-protocols", dataset="seed")
    peers = {e.protocol for e in seed.entries if get_protocol(e.protocol).audit_only}
    assert peers == {
        "libeer-front-back", "torcheeg-kfold", "eegfm-one-subject", "adabrain-random-valid",
        "adabrain-subject-valid",
    }  # fmt: skip
    for e in seed.entries:  # every peer's counterpart is in the grid
        counterpart = getattr(get_protocol(e.protocol), "counterpart", None)
        assert counterpart is None or counterpart in {x.protocol for x in seed.entries}
