"""Seed ensembles (``train.ensemble=N``): N members trained from seeds ``seed..seed+N-1``, kept in one
model folder, combined as the contract says (class probabilities averaged; tag marginals averaged and
decoded under the scheme's constraints; quantiles averaged), exported as one graph (a tagger's: every
member's emissions, decoded beside it in numpy), explained on the first member, resumed member by member.

Each test names the bug it catches: members trained from one seed, logits averaged instead of
probabilities, a tagger ensemble decoding paths its scheme forbids (or, with
``model.ensemble_decoding=scores``, not the best mean path of the members' own scores), an ensemble
folder that loads as one member, a graph that exports only the first member, a rerun that retrains
finished members.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from safetensors.torch import load_file
from task_case_forecaster import series_frame
from task_cases import CASES
from typer.testing import CliRunner

from lstmkit import Forecaster, load
from lstmkit.cli import app
from lstmkit.errors import ConfigError
from lstmkit.export.marginals import mean_log_marginals
from lstmkit.export.onnx import export_onnx, run_onnx, sidecar_path
from lstmkit.export.viterbi import decode
from lstmkit.nn.crf import DISALLOWED_SCORE
from lstmkit.nn.ensemble import Ensemble, mean_log_probs, members_of
from lstmkit.tasks import get_task_class
from lstmkit.tasks.forecaster.export import graph_inputs
from lstmkit.tasks.tagger.export import graph_inputs as tagger_graph_inputs

TASKS = ["text-classifier", "tagger", "sequence-classifier", "forecaster"]


@pytest.fixture(scope="module")
def ensembles(tmp_path_factory):
    """``ensembles(task)``: a 2-member ensemble of ``task`` trained on its conformance case (once per
    module), as ``(task, estimator, case, folder)``."""
    made = {}

    def get(task: str):
        if task not in made:
            tmp = tmp_path_factory.mktemp(task)
            case = CASES[task]
            estimator = get_task_class(task)(**case.params, ensemble=2)
            X, y = estimator.read_data(case.write_train(tmp))
            estimator.fit(X, y, out_dir=tmp / "run")
            made[task] = task, estimator, case, tmp
        return made[task]

    return get


@pytest.fixture(params=TASKS)
def fitted(request, ensembles):
    return ensembles(request.param)


def _parameters(network: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in network.parameters() if p.requires_grad])


def test_members_are_trained_from_their_own_seeds(fitted):
    """Two members from one seed would be one model counted twice: their weights must differ, and each
    member's run (checkpoints, logs) is its own, under ``members/<k>/``."""
    task, estimator, _, tmp = fitted
    network = estimator.network_
    assert isinstance(network, Ensemble) and len(network) == 2
    first, second = members_of(network)
    assert not torch.equal(_parameters(first), _parameters(second))
    for k in (1, 2):
        assert (tmp / "run" / "members" / str(k) / "checkpoints" / "last.ckpt").exists()
        assert (tmp / "run" / "members" / str(k) / "logs" / "metrics.csv").exists()
    assert len(estimator.member_histories_) == 2


def test_model_folder_keeps_every_member_and_loads_identically(fitted):
    """An ensemble folder is one ``model.safetensors`` holding both members; loading rebuilds both (a folder
    that loaded as one member, or members swapped, would predict differently)."""
    task, estimator, case, tmp = fitted
    folder = estimator.save(tmp / f"model-{task}")
    names = load_file(str(folder / "model.safetensors")).keys()
    assert any(name.startswith("members.0.") for name in names) and any(name.startswith("members.1.") for name in names)
    again = load(folder)
    assert isinstance(again.network_, Ensemble)
    X = estimator.inputs_from_json(case.json_inputs)
    assert again.predict_records(X) == estimator.predict_records(X)


def _with_member(estimator, member, fn):
    network = estimator.network_
    estimator.network_ = member
    try:
        return fn()
    finally:
        estimator.network_ = network


def test_a_classifier_ensemble_averages_probabilities(ensembles):
    """The ensemble's class probabilities are the mean of its members' (averaging logits, or taking the
    first member's, gives other numbers)."""
    _, estimator, case, _ = ensembles("sequence-classifier")
    X = estimator.inputs_from_json(case.json_inputs)
    members = [_with_member(estimator, m, lambda: estimator.predict_proba(X)) for m in members_of(estimator.network_)]
    np.testing.assert_allclose(estimator.predict_proba(X), np.mean(members, axis=0), atol=1e-6)


def test_text_ensemble_averages_the_lstm_branches_probabilities(ensembles):
    """The text classifier's LSTM branch of an ensemble is log of the members' mean probabilities (the
    n-gram branch, fitted once, is mixed in after), not the mean of their logits."""
    _, estimator, case, _ = ensembles("text-classifier")
    ids, lengths = _text_batch(estimator, case.json_inputs)
    network = estimator.network_
    with torch.no_grad():
        combined, _ = network.lstm_branch(ids, lengths)
        probabilities = [torch.softmax(m.lstm_branch(ids, lengths)[0], -1) for m in members_of(network)]
        logits_mean = torch.log_softmax(torch.stack([m.lstm_branch(ids, lengths)[0] for m in members_of(network)])
                                        .mean(0), -1)
    torch.testing.assert_close(combined.exp(), torch.stack(probabilities).mean(0))
    assert not torch.allclose(combined, logits_mean, atol=1e-4)


def _text_batch(estimator, texts):
    encoded = [ids or [estimator.vocab_.UNK_ID] for ids in estimator.encode(texts)]
    lengths = torch.tensor([len(ids) for ids in encoded])
    padded = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(encoded):
        padded[row, : len(ids)] = torch.tensor(ids)
    return padded, lengths


def test_forecaster_ensemble_averages_each_quantile(ensembles):
    """Before calibration, the ensemble's standardised forecast is the members' mean for every quantile
    (the first member's alone, or a median of members, differs)."""
    _, estimator, case, _ = ensembles("forecaster")
    windows = estimator._series_windows(estimator.inputs_from_json(case.json_inputs), stride=1)
    members = [_with_member(estimator, m, lambda: estimator._run_standardised(windows))
               for m in members_of(estimator.network_)]
    np.testing.assert_allclose(estimator._run_standardised(windows), np.mean(members, axis=0), atol=1e-5)
    assert not np.allclose(members[0], members[1], atol=1e-3)


def test_tagger_ensemble_decodes_averaged_marginals_under_the_scheme(ensembles):
    """Brute force over every tag path of a short sentence: the ensemble's path is the allowed path with the
    largest sum of log mean marginals (a decoder ignoring the constraints, or one reading the first member's
    emissions, picks another path whenever they disagree)."""
    _, estimator, case, _ = ensembles("tagger")
    network = estimator.network_
    crf = network.crf
    sentences = estimator.inputs_from_json(case.json_inputs)
    for tokens in sentences:
        tokens = list(tokens)[:5]
        batch = estimator._collate([estimator._encode(tokens)])
        with torch.no_grad():
            emissions = network.emissions(batch)[0]  # (T, K)
            member_marginals = [m.crf.marginals(m.emissions(batch), m.mask(batch))[0] if m.decoder == "crf"
                                else m.emissions(batch)[0].exp() for m in members_of(network)]
        torch.testing.assert_close(emissions.exp(), torch.stack(member_marginals).mean(0).clamp_min(1e-12))
        best, best_score = None, -float("inf")
        for path in itertools.product(range(crf.num_tags), repeat=len(tokens)):
            if not crf.constraints.allows(list(path)):
                continue
            score = float(sum(emissions[t, k] for t, k in enumerate(path)))
            if score > best_score:
                best, best_score = list(path), score
        assert estimator._run([tokens])[0] == best
        assert best_score > DISALLOWED_SCORE


def test_explanations_read_the_first_member(fitted):
    """``explain`` on an ensemble shows its first member's gates (the same as that member alone)."""
    task, estimator, case, _ = fitted
    X = estimator.inputs_from_json(case.json_inputs[:1])
    together = estimator.run_with_states(X)
    alone = _with_member(estimator, members_of(estimator.network_)[0], lambda: estimator.run_with_states(X))
    assert json.dumps(together, default=str) == json.dumps(alone, default=str)


def test_export_is_one_graph_of_every_member(fitted, tmp_path):
    """onnxruntime on the exported ensemble equals the estimator's predictions (a graph of the first member
    alone does not)."""
    task, estimator, case, _ = fitted
    path = tmp_path / "m.onnx"
    sidecar = export_onnx(estimator, path)
    if task == "tagger":
        _check_tagger_ensemble_graph(estimator, path, json.loads(json.dumps(sidecar)))
        return
    if task == "text-classifier":
        ids, lengths = _text_batch(estimator, case.json_inputs)
        (out,) = run_onnx(path, {"ids": ids.numpy(), "lengths": lengths.numpy()})
        expected = estimator.predict_proba(case.json_inputs)
    elif task == "forecaster":
        X = [series_frame(20, seed=3), series_frame(16, seed=4, start="2021-03-01")]
        (out,) = run_onnx(path, graph_inputs(json.loads(json.dumps(sidecar)), X))
        found = estimator.forecast(X)
        expected = np.stack([np.stack([f["p10"], f["point"], f["p90"]], axis=-1) for f in found])
    else:
        spec = estimator.export_module()
        features, lengths = (x.numpy() for x in spec.example_inputs)
        (out,) = run_onnx(path, {"features": features, "lengths": lengths})
        X = estimator.inputs_from_json([features[i, :n].tolist() for i, n in enumerate(lengths)])
        expected = estimator.predict_proba(X)
    np.testing.assert_allclose(out, expected, atol=1e-4)


TAGGER_SENTENCES = [["Anna", "visited", "Rome", "today"], ["John"], "Peter saw Tokyo",
                    ["Zoe", "left", "Berlin", "and", "Paris", "with", "Maria"], ["Rome", "Anna"]]


def _check_tagger_ensemble_graph(estimator, path, sidecar: dict) -> None:
    """A tagger ensemble's graph gives every member's emissions ``(N, B, T, K)``; decoded with its sidecar
    (members' marginals averaged, then constrained Viterbi) they give ``predict``'s tags. Sentences of 1 to 7
    tokens share one padded batch, so padding read into a member's forward-backward, emissions averaged
    instead of marginals, or a member left out changes the mean marginals checked here."""
    assert sidecar["decoder"] == "ensemble" and len(sidecar["ensemble"]["members"]) == 2
    feeds = tagger_graph_inputs(sidecar, TAGGER_SENTENCES)
    assert list(feeds) == sidecar["input_names"]
    (out,) = run_onnx(path, feeds)
    lengths = feeds["lengths"]
    assert out.shape[:3] == (2, len(TAGGER_SENTENCES), max(lengths)) and sorted(set(lengths)) == [1, 2, 3, 4, 7]
    real = np.arange(out.shape[2])[None, :] < lengths[:, None]  # (B, T)
    assert np.all(out[:, ~real] == 0.0)
    with torch.no_grad():
        expected = estimator.network_.emissions({k: torch.from_numpy(v) for k, v in feeds.items()}).numpy()
    got = mean_log_marginals(out, lengths, sidecar)  # (B, T, K)
    np.testing.assert_allclose(np.exp(got[real]), np.exp(expected[real]), atol=1e-5)
    assert decode(out, lengths, sidecar) == estimator.predict(TAGGER_SENTENCES)
    for n in (1, 3):  # one sentence alone: batch 1, its own length
        one = tagger_graph_inputs(sidecar, [TAGGER_SENTENCES[n]])
        (single,) = run_onnx(path, one)
        assert decode(single, one["lengths"], sidecar) == estimator.predict([TAGGER_SENTENCES[n]])


def _path_score(crf, emissions: torch.Tensor, path: list[int]) -> float:
    """One member's unnormalised log-score of a tag path, from its own tables (the reference for the
    ``scores`` rule: the members' mean of these, whose arg-max is the mean of their log p_k(y))."""
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    score = score + sum(emissions[t, k] for t, k in enumerate(path))
    return float(score + sum(crf.transitions[a, b] for a, b in zip(path, path[1:])))


def test_tagger_ensemble_by_scores_decodes_the_best_mean_path(tmp_path):
    """``model.ensemble_decoding=scores``: brute force over every allowed path of each short sentence, the
    ensemble's path maximises the members' mean path score, each member scoring with its OWN tables (tables
    taken from the first member only, marginals averaged instead, or transitions left at zero pick another
    path where the members disagree); the export decodes to the same tags, and the rule survives the model
    folder."""
    case = CASES["tagger"]
    estimator = get_task_class("tagger")(**case.params, ensemble=2, ensemble_decoding="scores")
    estimator.fit(*estimator.read_data(case.write_train(tmp_path)), out_dir=tmp_path / "run")
    network, members = estimator.network_, members_of(estimator.network_)
    assert network.rule == "scores" and network.decoder == "crf"
    for name in ("start_transitions", "transitions", "end_transitions"):
        torch.testing.assert_close(getattr(network.crf, name), (getattr(members[0].crf, name)
                                                                + getattr(members[1].crf, name)) / 2)
    assert not torch.equal(members[0].crf.transitions, members[1].crf.transitions)
    crf = network.crf
    for tokens in [list(t)[:5] for t in estimator.inputs_from_json(case.json_inputs)] + [["Anna", "saw", "Rome"]]:
        batch = estimator._collate([estimator._encode(tokens)])
        with torch.no_grad():
            scores = [m.emissions(batch)[0] for m in members]  # (T, K) each
        best, best_score = None, -float("inf")
        for path in itertools.product(range(crf.num_tags), repeat=len(tokens)):
            if crf.constraints.allows(list(path)):
                with torch.no_grad():
                    mean = sum(_path_score(m.crf, e, list(path)) for m, e in zip(members, scores)) / 2
                if mean > best_score:
                    best, best_score = list(path), mean
        assert estimator._run([tokens])[0] == best
    sidecar = json.loads(json.dumps(export_onnx(estimator, tmp_path / "m.onnx")))
    assert sidecar["ensemble"]["rule"] == "scores"
    feeds = tagger_graph_inputs(sidecar, TAGGER_SENTENCES)
    (out,) = run_onnx(tmp_path / "m.onnx", feeds)
    assert decode(out, feeds["lengths"], sidecar) == estimator.predict(TAGGER_SENTENCES)
    estimator.save(tmp_path / "model")
    again = load(tmp_path / "model")
    assert again.network_.rule == "scores" and again.predict(TAGGER_SENTENCES) == estimator.predict(TAGGER_SENTENCES)
    torch.testing.assert_close(again.network_.crf.transitions, crf.transitions)


def test_cli_exports_a_tagger_ensemble(ensembles, tmp_path):
    """``lstmkit export`` on a tagger ensemble's model folder writes one graph and its sidecar, exit 0."""
    _, estimator, _, _ = ensembles("tagger")
    estimator.save(tmp_path / "model")
    out = tmp_path / "ner.onnx"
    result = CliRunner().invoke(app, ["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"tagger model exported to {out}" in result.output and "outputs: emissions" in result.output
    sidecar = json.loads(sidecar_path(out).read_text(encoding="utf-8"))
    assert [m["decoder"] for m in sidecar["ensemble"]["members"]] == ["crf", "crf"]
    feeds = tagger_graph_inputs(sidecar, TAGGER_SENTENCES[:2])
    (emissions,) = run_onnx(out, feeds)
    assert decode(emissions, feeds["lengths"], sidecar) == estimator.predict(TAGGER_SENTENCES[:2])


def test_a_rerun_resumes_every_member_and_other_settings_are_refused(tmp_path):
    """Running the same ensemble again continues each member from its checkpoint (no epoch is trained
    twice), and a rerun with other settings into the same folder is refused, as for one model."""
    frame = series_frame(90, 0)
    params = dict(target=["value"], lookback=8, horizon=3, hidden_size=8, epochs=2, batch_size=32, patience=0,
                  ensemble=2)
    first = Forecaster(**params).fit(frame, out_dir=tmp_path / "run")
    again = Forecaster(**params).fit(frame, out_dir=tmp_path / "run")
    assert [len(h) for h in again.member_histories_] == [2, 2]
    assert again.predict().equals(first.predict())
    with pytest.raises(ConfigError, match="train.lr"):
        Forecaster(**params, lr=0.05).fit(frame, out_dir=tmp_path / "run")


def test_cli_trains_predicts_and_reports_an_ensemble(tmp_path):
    """``lstmkit train ... --set train.ensemble=2``: one model folder, each member's logs, and a model that
    predicts; the validation line is the ensemble's."""
    runner = CliRunner()
    train = CASES["sequence-classifier"].write_train(tmp_path)
    params = CASES["sequence-classifier"].params
    sets = [f"model.{k}={v}" if k in ("hidden_size",) else None for k, v in params.items()]
    result = runner.invoke(app, ["train", "sequence-classifier", "--train", str(train), "--out", str(tmp_path / "run"),
                                 "--epochs", "2", "--set", "train.ensemble=2",
                                 *[a for s in sets if s for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "members" / "2" / "logs" / "metrics.csv").exists()
    assert json.loads((tmp_path / "run" / "model" / "config.json").read_text())["config"]["train"]["ensemble"] == 2
    result = runner.invoke(app, ["evaluate", str(tmp_path / "run" / "model"), "--data", str(train), "--json"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in json.loads(result.stdout)


def test_mean_log_probs_is_the_log_of_the_mean_probability():
    logits = [torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[-3.0, 1.0, 0.5]])]
    expected = (torch.softmax(logits[0], -1) + torch.softmax(logits[1], -1)) / 2
    torch.testing.assert_close(mean_log_probs(logits).exp(), expected)
