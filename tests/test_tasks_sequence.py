"""The sequence-classifier task: readers, scaling, the three target modes, padding, the CLI.

Every test names the bug it catches. References: numpy / scikit-learn metrics computed on the
model's own predictions, hand-written files whose lines are known, and the same sequence scored
alone and among longer ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import task_cases  # noqa: F401  (imports the case modules, this one's data among them, without a cycle)
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score
from task_case_sequence import trend_sequences
from typer.testing import CliRunner

from lstmkit import SequenceClassifier, load
from lstmkit.cli import app
from lstmkit.data.formats.long_csv import write_long_csv
from lstmkit.errors import ConfigError, DataError, DataWarning, LstmkitError
from lstmkit.tasks.sequence import SequenceModelConfig, SequenceNet

TINY = dict(hidden_size=16, batch_size=16, epochs=4, lr=0.02, scheduler="none", patience=0)


def step_label_data(n: int, seed: int):
    """Per-step labels: ``pos`` where feature 0 > 0, else ``neg``; lengths 3..12."""
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, (int(rng.integers(3, 13)), 2)).astype(np.float32) for _ in range(n)]
    return xs, [["pos" if v > 0 else "neg" for v in x[:, 0]] for x in xs]


def step_value_data(n: int, seed: int):
    """Per-step values ``y_t = 3 x_t0 + 10`` (a target mean far from 0 tests target scaling)."""
    rng = np.random.default_rng(seed)
    xs = [rng.normal(0, 1, (int(rng.integers(3, 13)), 2)).astype(np.float32) for _ in range(n)]
    return xs, [(3 * x[:, 0] + 10).astype(np.float32) for x in xs]


@pytest.fixture(scope="module")
def fitted():
    X, y = trend_sequences(160, seed=0)
    return SequenceClassifier(**TINY).fit(X, y, valid=trend_sequences(40, seed=1))


# ---------------------------------------------------------------------- readers


TS_FILE = """# three speakers, ragged
@problemName tiny
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,8:9,10:b
{bad}1,2,3,4:5,6,7,8:a
"""


def test_ts_file_reads_ragged_cases_as_steps_by_features(tmp_path):
    """Reading .ts dimension-major without transposing would give (F, T) sequences."""
    path = tmp_path / "tiny.ts"
    path.write_text(TS_FILE.format(bad=""), encoding="utf-8")
    X, y = SequenceClassifier().read_data(path)
    assert [x.shape for x in X] == [(3, 2), (2, 2), (4, 2)]
    np.testing.assert_array_equal(X[0], [[1, 4], [2, 5], [3, 6]])
    assert list(y) == ["a", "b", "a"] and y.where(1) == (path, 10)


def test_ragged_dimensions_in_a_ts_case_name_the_line(tmp_path):
    """A case whose dimensions differ in length must not be padded silently."""
    path = tmp_path / "bad.ts"
    path.write_text(TS_FILE.format(bad="1,2:3,4,5:b\n"), encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.ts, line 11.*different lengths"):
        SequenceClassifier().read_data(path)


def test_ts_files_refuse_per_step_targets(tmp_path):
    """A .ts file has one label per case; per-step mode would misread it."""
    path = tmp_path / "tiny.ts"
    path.write_text(TS_FILE.format(bad=""), encoding="utf-8")
    with pytest.raises(DataError, match="label_per_step"):
        SequenceClassifier(label_per_step=True).read_data(path)


def test_long_csv_with_ragged_lengths_and_a_time_column(tmp_path):
    """Rows out of time order must be sorted within their sequence, and lengths may differ."""
    path = tmp_path / "long.csv"
    path.write_text("sequence_id,t,a,label\nx,2,0.3,up\nx,0,0.1,up\ny,0,5,down\nx,1,0.2,up\n", encoding="utf-8")
    X, y = SequenceClassifier(time_column="t").read_data(path)
    assert [x[:, 0].tolist() for x in X] == [pytest.approx([0.1, 0.2, 0.3]), [5.0]]
    assert list(y) == ["up", "down"]


def test_bad_feature_cell_names_file_and_line(tmp_path):
    """An error without the line leaves a user searching a large file."""
    path = tmp_path / "bad.csv"
    path.write_text("sequence_id,a,label\ns,1,up\ns,2,up\nt,oops,down\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.csv, line 4.*'oops' is not a number"):
        SequenceClassifier().read_data(path)


def test_bad_per_step_value_names_its_own_line_even_when_sorted_by_time(tmp_path):
    """The reader knows only a sequence's first line; the error must name the bad row's line."""
    path = tmp_path / "values.csv"
    path.write_text("sequence_id,t,a,label\ns,1,0.1,1.5\nu,0,0.3,2\ns,0,0.2,n/a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"values\.csv, line 4.*'n/a' is not a finite number"):
        SequenceClassifier(label_per_step=True, target_kind="value", time_column="t").read_data(path)


def test_unknown_per_step_label_names_its_line(tmp_path):
    """A label the model never saw must be an error at its own row, not a silent miss."""
    X, y = step_label_data(40, seed=0)
    clf = SequenceClassifier(label_per_step=True, **{**TINY, "epochs": 1}).fit(X, y)
    path = tmp_path / "steps.csv"
    path.write_text("sequence_id,a,b,label\ns,0.1,0.2,pos\ns,-0.1,0.2,neg\ns,0.3,0.1,maybe\n", encoding="utf-8")
    Xf, yf = clf.read_data(path)
    with pytest.raises(DataError, match=r"steps\.csv, line 4.*unknown label 'maybe'"):
        clf.evaluate(Xf, yf)


def test_unknown_suffix_is_a_data_error(tmp_path):
    """A .json file must not be parsed as CSV by accident."""
    path = tmp_path / "data.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="long CSV"):
        SequenceClassifier().read_data(path)


def test_a_predict_file_may_keep_its_label_column(fitted, tmp_path):
    """read_inputs must not read the label column as a feature (or demand it)."""
    X, y = trend_sequences(5, seed=3)
    with_labels = write_long_csv(tmp_path / "a.csv", X, y, feature_names=["a", "b"])
    without = write_long_csv(tmp_path / "b.csv", X, None, feature_names=["a", "b"])
    assert np.array_equal(fitted.predict(fitted.read_inputs(with_labels)), fitted.predict(fitted.read_inputs(without)))
    wrong = write_long_csv(tmp_path / "c.csv", [x[:, :1] for x in X], None, feature_names=["a"])
    with pytest.raises(DataError, match=r"c\.csv.*1 feature column \(a\), but the model was trained on 2"):
        fitted.read_inputs(wrong)


# ---------------------------------------------------------------------- inputs


def test_json_inputs_are_checked_and_name_the_input(fitted):
    """The server answers 422 for a DataError; a wrong shape must say which input."""
    with pytest.raises(DataError, match="input 2: 3 features per step, expected 2"):  # counted from 1
        fitted.inputs_from_json([[[0, 1]], [[0, 1, 2]]])
    with pytest.raises(DataError, match="input 1, step 2: 2 features, but step 1 has 1"):
        fitted.inputs_from_json([[[0], [1, 2]]])
    with pytest.raises(DataError, match="input 1, step 1, feature 2: 'x' is not a number"):
        fitted.inputs_from_json([[[0, "x"]]])
    with pytest.raises(DataError, match="input 1: empty sequence"):
        fitted.inputs_from_json([[]])
    with pytest.raises(DataError, match="sequence 1, step 1, feature 2: nan is not a finite number"):
        fitted.coerce([np.array([[0.0, np.nan]])])
    with pytest.raises(DataError, match="not a finite number"):
        fitted.coerce([np.array([[0.0, np.nan]])])


def test_arrays_and_univariate_sequences_are_accepted():
    """A 3-D array (N, T, F) or 1-D univariate sequences are common ways to pass data."""
    clf = SequenceClassifier()
    assert [x.shape for x in clf.coerce(np.zeros((4, 5, 3)))[0]] == [(5, 3)] * 4
    assert [x.shape for x in clf.coerce([[1.0, 2.0, 3.0], np.arange(2.0)])[0]] == [(3, 1), (2, 1)]


def test_sktime_channels_first_arrays_warn_and_data_layout_reads_them(fitted):
    """sktime's numpy3D (N, C, T) was read as (N, T, C) without a word: 3 channels of 30 steps became
    3 steps of 30 features. data.layout=auto warns (naming the option) when the second axis is the
    smaller; channels_first transposes; channels_last keeps the reading, silently."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3, 30)).astype(np.float32)  # (N, C, T)
    with pytest.warns(DataWarning, match=r"\(4, 3, 30\).*3 steps x 30 features.*data\.layout=channels_first"):
        auto = SequenceClassifier().coerce(X)[0]
    assert [x.shape for x in auto] == [(3, 30)] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = SequenceClassifier(layout="channels_first").coerce(X)[0]
        listed = SequenceClassifier(layout="channels_first").coerce(list(X))[0]
        last = SequenceClassifier(layout="channels_last").coerce(X)[0]
        SequenceClassifier().coerce(np.zeros((4, 30, 3)))  # more steps than features: no warning
    assert all(np.array_equal(a, x.T) for a, x in zip(first, X)) and [x.shape for x in listed] == [(30, 3)] * 4
    assert [x.shape for x in last] == [(3, 30)] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SequenceClassifier().coerce(list(X))  # a list: short sequences of many features are common, no word
    with pytest.warns(DataWarning), pytest.raises(DataError, match="5 features per step, expected 2 .*set "
                                                                  "data.layout=channels_first"):
        fitted.coerce(np.zeros((3, 2, 5)))  # the model's 2 features on the other axis


def test_a_channels_first_model_reads_json_rows_as_steps():
    """JSON inputs are rows of steps whatever data.layout says of Python arrays; the server merges
    them into plain lists, which must still be read right by a channels_first model."""
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(2, int(rng.integers(3, 9)))).astype(np.float32) for _ in range(40)]  # (C, T)
    y = ["up" if x[0, -1] > x[0, 0] else "down" for x in X]
    clf = SequenceClassifier(**{**TINY, "epochs": 1}, layout="channels_first").fit(X, y)
    rows = [x.T.tolist() for x in X[:5]]  # JSON: steps x features
    expected = clf.predict_records(X[:5])
    assert clf.predict_records(clf.inputs_from_json(rows)) == expected
    assert clf.predict_records(list(clf.inputs_from_json(rows[:2])) + list(clf.inputs_from_json(rows[2:]))) == expected


def test_long_dataframes_in_read_data_fit_and_predict(tmp_path):
    """A long DataFrame (as pd.read_csv gives a long CSV) was a raw TypeError in read_data and refused
    by fit; it must read as the file does, label column included, and name a bad row."""
    import pandas as pd

    X, y = trend_sequences(40, seed=0)
    path = write_long_csv(tmp_path / "train.csv", X, y, feature_names=["a", "b"])
    frame = pd.read_csv(path)
    clf = SequenceClassifier(**TINY)
    from_frame, labels = clf.read_data(frame)
    from_file, file_labels = clf.read_data(path)
    assert all(np.array_equal(a, b) for a, b in zip(from_frame, from_file)) and list(labels) == list(file_labels)
    clf.fit(frame)  # labels from the frame's label column
    assert clf.feature_names_ == ["a", "b"]
    records = clf.predict_records(frame.drop(columns="label"))
    assert [r["sequence_id"] for r in records] == [str(i) for i in range(40)]
    assert records == clf.predict_records(clf.read_inputs(path))
    swapped = pd.read_csv(path)[["b", "sequence_id", "a"]]  # the model's columns are found by name
    assert clf.predict_records(swapped) == records
    broken = frame.copy()
    broken.loc[3, "b"] = None
    with pytest.raises(DataError, match="the DataFrame, row 4: column 'b': empty value"):
        clf.predict(broken)
    with pytest.raises(DataError, match="fit needs targets"):
        SequenceClassifier(**TINY).fit(X)


def test_a_file_without_the_models_columns_names_them(tmp_path):
    """The page and predict --input said only "no column 'sequence_id'"; the message must name every
    column the model reads."""
    path = write_long_csv(tmp_path / "t.csv", *trend_sequences(20, seed=0), feature_names=["a", "b"])
    clf = SequenceClassifier(**TINY)
    clf.fit(*clf.read_data(path))
    assert clf.feature_names_ == ["a", "b"]
    (tmp_path / "x.csv").write_text("id,a,b\nq,1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.csv, line 1: no column 'sequence_id': a long CSV has one row per step "
                                        r"and the columns sequence_id, a, b, label \(optional\) \(found: id, a, b\)"):
        clf.read_inputs(tmp_path / "x.csv")


def test_value_targets_need_per_step_mode():
    """target_kind=value with one label per sequence has no meaning: a ConfigError naming the key."""
    with pytest.raises(ConfigError, match="data.target_kind"):
        SequenceClassifier(target_kind="value").fit(*trend_sequences(10, 0))


# ---------------------------------------------------------------------- scaling


def test_scaler_is_fitted_on_training_steps_and_saved(fitted, tmp_path):
    """Scaling fitted per sequence, over padding, or not saved would change predictions after loading."""
    X, _ = trend_sequences(160, seed=0)
    steps = np.concatenate(X).astype(np.float64)  # fit() got exactly these training sequences
    np.testing.assert_allclose(fitted.scaler_.mean_, steps.mean(0), rtol=1e-6)
    np.testing.assert_allclose(fitted.scaler_.scale_, steps.std(0), rtol=1e-6)
    fitted.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "scaler.json").read_text())
    np.testing.assert_allclose(saved["mean"], steps.mean(0), rtol=1e-6)
    same = load(tmp_path / "model")
    probe, _ = trend_sequences(30, seed=9)
    np.testing.assert_array_equal(same.predict_proba(probe), fitted.predict_proba(probe))
    np.testing.assert_array_equal(same.scaler_.transform(probe[0]), fitted.scaler_.transform(probe[0]))


def test_scaling_can_be_turned_off(tmp_path):
    """data.scale=false must neither fit nor require scaler.json."""
    X, y = trend_sequences(40, seed=0)
    clf = SequenceClassifier(scale=False, **{**TINY, "epochs": 1}).fit(X, y)
    assert clf.scaler_ is None
    clf.save(tmp_path / "m")
    assert not (tmp_path / "m" / "scaler.json").exists()
    np.testing.assert_array_equal(load(tmp_path / "m").predict_proba(X), clf.predict_proba(X))


# ---------------------------------------------------------------------- padding


@pytest.mark.parametrize("mode,pooling,cell", [
    ("sequence", "last", "lstm"), ("sequence", "mean", "gru"), ("sequence", "max", "lstm"),
    ("sequence", "attention", "lstm"), ("sequence", "max_mean", "gru"),
    ("step_label", "max_mean", "lstm"), ("step_value", "max_mean", "gru")])
def test_padding_never_changes_a_prediction(mode, pooling, cell):
    """A mask missing anywhere (RNN, pooling, per-step head) lets padding change the output."""
    torch.manual_seed(0)
    cfg = SequenceModelConfig(hidden_size=8, num_layers=2, pooling=pooling, cell=cell, hidden_layer=5)
    net = SequenceNet(3, 1 if mode == "step_value" else 4, cfg, mode, target_mean=2.0, target_scale=3.0).eval()
    short = torch.randn(1, 4, 3)
    alone = net(short, torch.tensor([4]))
    batch = torch.randn(3, 9, 3) * 100  # padding of any value
    batch[1, :4] = short[0]
    together = net(batch, torch.tensor([9, 4, 7]))[1:2]
    if mode != "sequence":
        assert together[:, 4:].abs().max() == 0  # padded steps give 0
        together = together[:, :4]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["step_label", "step_value"])
def test_per_step_loss_counts_only_real_steps(mode):
    """Bug guarded (a mutation test found every other test blind to it): the per-step loss averaged
    over padded steps too. On a padded batch of lengths 5, 2, 3 the training loss must be the mean
    over the 10 real steps of each sequence's own per-step losses (computed one sequence at a time,
    without padding), and must not move when the labels or targets at padded steps change."""
    torch.manual_seed(0)
    cfg = SequenceModelConfig(hidden_size=8, classifier_dropout=0.0)
    net = SequenceNet(3, 1 if mode == "step_value" else 4, cfg, mode, target_mean=2.0, target_scale=3.0).eval()
    lengths = [5, 2, 3]
    x = torch.randn(3, 5, 3)
    key = "labels" if mode == "step_label" else "targets"
    targets = torch.randint(0, 4, (3, 5)) if mode == "step_label" else torch.randn(3, 5) * 3 + 2
    with torch.no_grad():
        loss = net.training_loss({"x": x, "lengths": torch.tensor(lengths), key: targets})
        total = 0.0
        for b, n in enumerate(lengths):  # one sequence at a time: no padding at all
            out = net._raw({"x": x[b:b + 1, :n], "lengths": torch.tensor([n])})[0]
            if mode == "step_label":
                total += torch.nn.functional.cross_entropy(out, targets[b, :n], reduction="sum").item()
            else:
                total += ((out - (targets[b, :n] - 2.0) / 3.0) ** 2).sum().item()
        assert loss.item() == pytest.approx(total / sum(lengths), rel=1e-5)
        padded = torch.arange(5) >= torch.tensor(lengths)[:, None]  # (3, 5): True at padded steps
        changed = targets.clone()
        changed[padded] = 3 if mode == "step_label" else 1e3
        again = net.training_loss({"x": x, "lengths": torch.tensor(lengths), key: changed})
    assert again.item() == loss.item()


def test_a_sequence_scores_the_same_alone_and_among_longer_ones(fitted):
    """Through the estimator: batching (sorted by length) must not change or reorder results."""
    X, _ = trend_sequences(50, seed=4)
    together = fitted.predict_proba(X)
    for i in (0, 7, 31):
        np.testing.assert_allclose(fitted.predict_proba([X[i]])[0], together[i], atol=1e-6)


# ---------------------------------------------------------------------- the three modes


def test_one_label_per_sequence_learns_and_scores_like_scikit_learn(fitted):
    """Metrics computed on the wrong labels or order would disagree with scikit-learn."""
    X, y = trend_sequences(60, seed=2)
    metrics = fitted.evaluate(X, y)
    pred = fitted.predict(X)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, pred)) and metrics["accuracy"] > 0.9
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    record = fitted.predict_records([X[0]])[0]
    assert record["length"] == len(X[0]) and set(record["probabilities"]) == {"down", "up"}


def test_per_step_labels_learn_and_score_like_scikit_learn():
    """Per-step accuracy must count every real step once (not padding, not per sequence)."""
    X, y = step_label_data(200, seed=0)
    clf = SequenceClassifier(label_per_step=True, **TINY).fit(X, y, valid=step_label_data(40, seed=1))
    Xt, yt = step_label_data(60, seed=2)
    pred = clf.predict(Xt)
    assert [len(p) for p in pred] == [len(x) for x in Xt]
    true_flat, pred_flat = sum(yt, []), sum(pred, [])
    metrics = clf.evaluate(Xt, yt)
    assert metrics["n"] == len(true_flat) and metrics["n_sequences"] == 60
    assert metrics["accuracy"] == pytest.approx(accuracy_score(true_flat, pred_flat)) and metrics["accuracy"] > 0.9
    assert metrics["macro_f1"] == pytest.approx(f1_score(true_flat, pred_flat, average="macro"))
    proba = clf.predict_proba(Xt[:2])
    assert [p.shape for p in proba] == [(len(Xt[0]), 2), (len(Xt[1]), 2)]
    record = clf.predict_records(Xt[:1])[0]
    assert record["labels"] == pred[0] and len(record["confidence"]) == len(Xt[0])
    wrong = [list(steps) for steps in yt[:2]]
    wrong[1][0] = "maybe"
    with pytest.raises(DataError, match="unknown label 'maybe' in sequence 2;"):  # counted from 1
        clf.evaluate(Xt[:2], wrong)


def test_per_step_values_learn_and_score_like_scikit_learn(tmp_path):
    """MSE on unscaled targets, or metrics in scaled units, would miss the references."""
    X, y = step_value_data(200, seed=0)
    clf = SequenceClassifier(label_per_step=True, target_kind="value", **{**TINY, "epochs": 6}).fit(
        X, y, valid=step_value_data(40, seed=1))
    Xt, yt = step_value_data(60, seed=2)
    true, pred = np.concatenate(yt), np.concatenate([np.asarray(p) for p in clf.predict(Xt)])
    metrics = clf.evaluate(Xt, yt)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(true, pred), rel=1e-5)
    assert metrics["mse"] == pytest.approx(mean_squared_error(true, pred), rel=1e-5)
    assert metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(true, pred)), rel=1e-5)
    assert metrics["rmse"] < 0.5 * true.std()  # learned, in target units
    assert clf.score(Xt, yt) == pytest.approx(r2_score(true, pred), rel=1e-5)
    clf.save(tmp_path / "m")
    assert (tmp_path / "m" / "target_scaler.json").exists()
    assert load(tmp_path / "m").predict_records(Xt) == clf.predict_records(Xt)
    with pytest.raises(LstmkitError, match="no probabilities"):
        clf.predict_proba(Xt)


def test_time_shift_moves_per_step_targets_with_their_steps():
    """Shifting features but not targets would teach the model misaligned labels."""
    clf = SequenceClassifier(label_per_step=True, max_shift=3, jitter=0.0)
    clf.config_ = clf.resolved_config()
    rng = np.random.default_rng(0)
    xs = [np.arange(10, dtype=np.float32)[:, None] for _ in range(20)]
    ys = [np.arange(10, dtype=np.int64) for _ in range(20)]
    out_x, out_y = clf._augment(xs, ys, rng)
    assert any((x[:, 0] != np.arange(10)).any() for x in out_x)  # something moved
    for x, steps in zip(out_x, out_y):
        np.testing.assert_array_equal(x[:, 0], steps)
        assert steps.dtype == np.int64


def test_feature_shift_moves_the_raw_features_before_scaling():
    """Each training sequence reaches the network as the *scaled* copy of its raw features moved
    sideways by one k in [-2, 2]. Fails on shifting already-scaled features (each column has its
    own mean and std: a moved pixel would change its value), on a different k per step, and on
    shifting at prediction time."""
    rng = np.random.default_rng(0)
    columns = np.linspace(0.0, 10.0, 6) ** 2  # distinct raw values per column
    X = [np.tile(columns, (5, 1)).astype(np.float32) + rng.normal(0, 0.1, (5, 6)).astype(np.float32)
         for _ in range(32)]
    y = ["a", "b"] * 16
    clf = SequenceClassifier(**{**TINY, "epochs": 1, "batch_size": 32}, layout="channels_last").fit(
        X, y, valid=(X[:4], y[:4]))  # 5 steps x 6 pixels: channels_last says so (no layout warning)
    clf.config_.train.feature_shift = 2
    mean, scale = clf.scaler_.mean_, clf.scaler_.scale_
    (batch,) = list(clf._loader(X, y, train=True))
    ks = set()
    for row, length in zip(batch["x"].numpy(), batch["lengths"].tolist()):
        raw = row[:length] * scale + mean  # (T, F) back in raw units
        matches = [k for k in range(-2, 3) for x in X
                   if np.allclose(raw, x[:, np.clip(np.arange(6) - k, 0, 5)], atol=1e-4)]
        assert matches, "a sequence that is not a shifted raw sequence reached the network"
        ks.add(matches[0])
    assert len(ks) > 1  # the shifts vary
    (plain,) = list(clf._loader(X, y, train=False))  # no shifting outside training
    for row, length in zip(plain["x"].numpy(), plain["lengths"].tolist()):
        raw = row[:length] * scale + mean
        assert any(np.allclose(raw, x, atol=1e-4) for x in X)


# ---------------------------------------------------------------------- command line


def _write(path, X, y):
    return write_long_csv(path, X, y, feature_names=["a", "b"])


def test_cli_end_to_end_one_label_per_sequence(tmp_path):
    """The real entry point (python -m lstmkit): train, evaluate --json, predict --json."""
    train = _write(tmp_path / "train.csv", *trend_sequences(80, seed=0))
    test = _write(tmp_path / "test.csv", *trend_sequences(20, seed=1))
    sets = ["--set", "model.hidden_size=8", "--set", "train.lr=0.02", "--set", "train.scheduler=none"]
    script = (
        f"import subprocess, sys\n"
        f"run = lambda *a: subprocess.run([sys.executable, '-m', 'lstmkit', *a], capture_output=True, text=True)\n"
        f"r = run('train', 'sequence-classifier', '--train', {str(train)!r}, '--out', {str(tmp_path / 'run')!r},"
        f" '--epochs', '2', *{sets!r}); print(r.returncode); print(r.stderr[-300:], file=sys.stderr)\n"
        f"r = run('evaluate', {str(tmp_path / 'run' / 'model')!r}, '--data', {str(test)!r}, '--json');"
        f" print(r.returncode); print(r.stdout.strip())\n"
        f"r = run('predict', {str(tmp_path / 'run' / 'model')!r}, '--input', {str(test)!r}, '--json');"
        f" print(r.returncode); print(r.stdout.strip().replace(chr(10), ' | '))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = result.stdout.splitlines()
    assert lines[0] == "0", result.stderr
    assert lines[1] == "0" and set(json.loads(lines[2])) == {"accuracy", "macro_f1", "per_class", "n"}
    assert lines[3] == "0"
    records = [json.loads(r) for r in lines[4].split(" | ")]
    assert len(records) == 20 and {"length", "label", "probabilities"} <= set(records[0])


@pytest.mark.parametrize("kind", ["label", "value"])
def test_cli_per_step_modes(kind, tmp_path):
    """Per-step models through the CLI verbs: metrics of the mode, one record per sequence."""
    data = step_label_data if kind == "label" else step_value_data
    train = _write(tmp_path / "train.csv", *data(60, seed=0))
    test = _write(tmp_path / "test.csv", *data(10, seed=1))
    invoke = lambda *a: CliRunner().invoke(app, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    result = invoke(
        "train",
        "sequence-classifier",
        "--train",
        train,
        "--out",
        tmp_path / "run",
        "--epochs",
        1,
        "--set",
        "data.label_per_step=true",
        "--set",
        f"data.target_kind={kind}",
        "--set",
        "model.hidden_size=8",
    )
    assert result.exit_code == 0, result.output
    result = invoke("evaluate", tmp_path / "run" / "model", "--data", test, "--json")
    metrics = json.loads(result.stdout)
    assert metrics["n_sequences"] == 10 and ("accuracy" if kind == "label" else "rmse") in metrics
    result = invoke("predict", tmp_path / "run" / "model", "--input", test, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 10 and len(records[0]["labels" if kind == "label" else "values"]) == records[0]["length"]
    result = invoke("predict", tmp_path / "run" / "model", "--input", test)
    first = records[0]
    assert first["sequence_id"] == "0"  # from the file, so outputs can be matched to inputs
    assert result.stdout.splitlines()[0].startswith(f"0\t{first['length']} steps\t")


@pytest.mark.parametrize("kind", ["label", "value"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_per_step_output_is_one_row_per_input_row(kind, suffix, tmp_path):
    """predict --output x.csv of a per-step model wrote JSON lists in a cell; it must be long like the
    input: row i about input row i (rows interleaved and sorted by a time column here)."""
    data = step_label_data if kind == "label" else step_value_data
    clf = SequenceClassifier(**{**TINY, "epochs": 1}, label_per_step=True, target_kind=kind).fit(*data(30, seed=0))
    clf.save(tmp_path / "model")
    X, _ = data(4, seed=1)
    rows = [(f"s{n}", t, *x[t]) for n, x in enumerate(X) for t in range(len(x))]
    order = np.random.default_rng(0).permutation(len(rows))  # interleaved sequences, times out of order
    lines = ["sequence_id,t,a,b"] + [",".join(str(v) for v in rows[i]) for i in order]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(tmp_path / "model"),
            "--input",
            str(tmp_path / "in.csv"),
            "--set",
            "data.time_column=t",
            "--output",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    import csv

    written = list(csv.DictReader(out.open(encoding="utf-8"), delimiter="\t" if suffix == ".tsv" else ","))
    assert len(written) == len(rows)
    expected = (
        ["sequence_id", "t", "step", "label", "confidence"]
        if kind == "label"
        else ["sequence_id", "t", "step", "value"]
    )
    assert list(written[0]) == expected
    records = clf.predict_records(X)
    for row, i in zip(written, order):
        name, t = rows[i][:2]
        assert (row["sequence_id"], int(row["t"]), int(row["step"])) == (name, t, t + 1)
        record = records[int(name[1:])]
        if kind == "label":
            assert row["label"] == record["labels"][t]
            assert float(row["confidence"]) == pytest.approx(record["confidence"][t])
        else:
            assert float(row["value"]) == pytest.approx(record["values"][t], rel=1e-5)


def test_demo_presets_are_valid_and_the_mnist_png_is_written(tmp_path):
    """A preset key renamed in the config, or a broken PNG writer, fails `lstmkit demo` only after training."""
    from lstmkit.config import build_config
    from lstmkit.tasks.sequence import SequenceClassifierConfig
    from lstmkit.tasks.sequence.demo import PRESETS, plot_digits

    for preset in PRESETS.values():  # the presets are valid configs
        build_config(SequenceClassifierConfig, base=preset)
    images = [np.full((28, 28), i / 3, dtype=np.float32) for i in range(3)]
    path = plot_digits(images, ["1", "2", "3"], ["1", "7", "3"], tmp_path / "digits.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_preset_setting_one_train_key_keeps_the_tasks_train_defaults():
    """A section built from TrainConfig's defaults (adam, no schedule, patience 3) whenever a preset or
    YAML file sets one train key would silently train demos and benchmarks differently."""
    from lstmkit.config import build_config
    from lstmkit.tasks.sequence import SequenceClassifierConfig

    plain = build_config(SequenceClassifierConfig).train
    preset = build_config(SequenceClassifierConfig, base={"train": {"epochs": 30}}).train
    assert preset == plain and (plain.optimizer, plain.scheduler, plain.patience) == ("adamw", "onecycle", 0)


@pytest.mark.parametrize("mode", ["sequence", "step_label", "step_value"])
def test_export_graph_equals_predictions_in_every_mode(mode, tmp_path):
    """The ONNX graph must give predict_proba's numbers on a padded batch of mixed lengths (a
    forgotten scaler, or padding leaking into pooling, would change them) and onnxruntime the same."""
    from lstmkit.export.onnx import export_onnx, run_onnx
    from lstmkit.tasks.sequence.export import export_spec

    if mode == "sequence":
        (X, y), extra = trend_sequences(80, seed=0), {}
    elif mode == "step_label":
        (X, y), extra = step_label_data(80, 0), {"label_per_step": True}
    else:
        (X, y), extra = step_value_data(80, 0), {"label_per_step": True, "target_kind": "value"}
    clf = SequenceClassifier(**{**TINY, "epochs": 1}, **extra).fit(X, y)
    spec = export_spec(clf)
    batch = [np.asarray(x, np.float32) for x in X[:5]]
    lengths = torch.tensor([len(x) for x in batch])
    features = torch.zeros(len(batch), int(lengths.max()), batch[0].shape[1])
    for row, x in enumerate(batch):
        features[row, : len(x)] = torch.from_numpy(x)
    with torch.inference_mode():
        graph = spec.module(features, lengths).numpy()
    expected = clf.predict_proba(batch) if mode != "step_value" else clf.predict(batch)
    for row, x in enumerate(batch):
        want = np.asarray(expected[row], dtype=np.float32)
        np.testing.assert_allclose(
            graph[row] if mode == "sequence" else graph[row, : len(x)],
            want,
            atol=1e-4 if mode != "step_value" else 1e-3,
        )
    export_onnx(clf, tmp_path / "m.onnx")
    (got,) = run_onnx(tmp_path / "m.onnx", {"features": features.numpy(), "lengths": lengths.numpy()})
    np.testing.assert_allclose(got, graph, atol=1e-4)


def test_a_line_separator_inside_a_quoted_cell_is_not_a_line_break(tmp_path):
    """A U+2028 inside a quoted cell is text, not a line break: the rows and the line an error
    names stay right (a reader splitting at Unicode line breaks would get both wrong)."""
    path = tmp_path / "seq.csv"
    path.write_text('sequence_id,x,label\ns1,1.0,"a\u2028b"\ns1,2.0,"a\u2028b"\ns2,3.0,c\n', encoding="utf-8")
    X, y = SequenceClassifier().read_data(path)
    assert [len(x) for x in X] == [2, 1] and list(y) == ["a\u2028b", "c"]
    path.write_text('sequence_id,x,label\ns1,1.0,"a\u2028b"\ns2,oops,c\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"seq\.csv, line 3"):
        SequenceClassifier().read_data(path)
