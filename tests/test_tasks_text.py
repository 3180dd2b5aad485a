"""The text-classifier task through its Python API: learn, save, load, predict, evaluate."""

import numpy as np
import pytest
import torch
from textdata import BAD, FILL, GOOD, english_reviews

from lstmkit import TextClassifier, load
from lstmkit.errors import ConfigError, DataError, ModelFolderError
from lstmkit.tasks.text import TextClassifierNet, TextModelConfig

TINY = dict(embedding_dim=16, hidden_size=16, ngram_buckets=2000, lexicon_buckets=2000, batch_size=16, epochs=4,
            lr=0.01, scheduler="none", patience=0)

@pytest.fixture(scope="module")
def fitted():
    texts, labels = english_reviews(300)
    valid = english_reviews(60, seed=1)
    return TextClassifier(**TINY).fit(texts, labels, valid=valid)


def test_learns_a_simple_rule(fitted):
    texts, labels = english_reviews(100, seed=2)
    metrics = fitted.evaluate(texts, labels)
    assert metrics["accuracy"] > 0.9
    assert set(metrics["per_class"]) == {"neg", "pos"} and metrics["n"] == 100
    assert fitted.tokenizer_.to_config()["name"] == "word"  # auto: English -> words


def test_predict_proba_rows_sum_to_one_and_follow_input_order(fitted):
    texts = ["good great room", "awful rude staff", "the hotel", "a"]
    proba = fitted.predict_proba(texts)
    assert proba.shape == (4, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    # Sorting by length inside must not reorder results: score each text alone too.
    for i, text in enumerate(texts):
        np.testing.assert_allclose(fitted.predict_proba([text])[0], proba[i], atol=1e-5)
    assert fitted.predict(["good great lovely", "bad awful poor"]).tolist() == ["pos", "neg"]


def test_parallel_batches_give_the_same_probabilities(fitted):
    texts, _ = english_reviews(300, seed=4)  # several inference batches
    alone = fitted.predict_proba(texts)
    torch.set_num_threads(2)
    try:
        parallel = fitted.predict_proba(texts)
    finally:
        torch.set_num_threads(1)
    np.testing.assert_allclose(parallel, alone, atol=1e-6)


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    texts, _ = english_reviews(50, seed=3)
    fitted.save(tmp_path / "model", metrics={"valid": fitted.valid_metrics_})
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.json"):
        assert (tmp_path / "model" / name).is_file()
    same = load(tmp_path / "model")
    assert isinstance(same, TextClassifier)
    np.testing.assert_array_equal(same.predict_proba(texts), fitted.predict_proba(texts))
    assert same.labels_ == fitted.labels_ and len(same.vocab_) == len(fitted.vocab_)


def test_lexicon_is_cross_fitted_in_training_and_saved_whole(fitted, tmp_path):
    lexicon = fitted.network_.lexicon
    assert lexicon.max_n == 3 and fitted.network_.rnn.input_size == 16 + 3 * 2
    assert torch.count_nonzero(lexicon.table) > 0 and lexicon.fold_tables is None  # freed after fit
    texts, labels = english_reviews(40)
    clf = TextClassifier(**TINY)
    clf.config_ = clf.resolved_config()
    with clf._training_data(texts, labels, None, None) as (rows, y, valid_rows, valid_y):
        clf._prepare(rows, y)
        batch = next(iter(clf._loader(rows, y, train=True)))
        assert batch["fold"].shape == batch["labels"].shape  # training texts carry their lexicon fold
        assert "fold" not in next(iter(clf._loader(valid_rows, valid_y, train=False)))
    fitted.save(tmp_path / "model")
    torch.testing.assert_close(load(tmp_path / "model").network_.lexicon.table, lexicon.table)


def test_training_loss_reads_each_texts_cross_fitted_fold():
    """training_loss dropping fold= would let training texts see their own label in the lexicon."""
    import torch.nn.functional as F

    texts, labels = english_reviews(60)
    clf = TextClassifier(**TINY)
    clf.config_ = clf.resolved_config()
    with clf._training_data(texts, labels, None, None) as (rows, y, _, _):
        clf._prepare(rows, y)
        net = clf._build_network().eval()  # eval: no dropout, so the losses compare exactly
        batch = next(iter(clf._loader(rows, y, train=True)))
    folded, _ = net.lstm_branch(batch["ids"], batch["lengths"], batch["fold"])
    whole, _ = net.lstm_branch(batch["ids"], batch["lengths"])
    loss = net.training_loss(batch)
    torch.testing.assert_close(loss, F.cross_entropy(folded, batch["labels"]))
    assert not torch.allclose(loss, F.cross_entropy(whole, batch["labels"]))


def test_labels_keep_their_type_and_match_a_files_text(tmp_path):
    """Integer labels (pandas reads 0/1 columns as int64) crashed evaluate on a file."""
    import pandas as pd

    from lstmkit.data.formats.tables import read_text_classification

    texts, labels = english_reviews(120)
    ints = pd.Series([1 if label == "pos" else 0 for label in labels])  # int64
    clf = TextClassifier(**{**TINY, "epochs": 3}).fit(pd.Series(texts), ints, valid=(texts[:20], ints[:20]))
    assert clf.labels_ == [0, 1] and clf.predict(texts[:5]).dtype == np.int64  # ints, as NumPy holds them
    clf.save(tmp_path / "model")
    same = load(tmp_path / "model")
    assert same.labels_ == [0, 1] and np.array_equal(same.predict(texts[:5]), clf.predict(texts[:5]))
    (tmp_path / "t.csv").write_text("text,label\ngood clean room,1\nawful rude staff,0\nbad,2\n", encoding="utf-8")
    file_texts, file_labels = read_text_classification(tmp_path / "t.csv")
    assert same.evaluate(file_texts[:2], file_labels[:2])["n"] == 2  # "1" is the label 1
    with pytest.raises(DataError, match=r"t\.csv, line 4: unknown label '2'; the model knows: 0, 1"):
        same.evaluate(file_texts, file_labels)
    with pytest.raises(DataError, match="unknown label '2' in example 1"):
        same.evaluate(["bad"], [2])


def test_empty_text_is_an_error_not_a_prediction(fitted):
    """An empty text got a confident label."""
    for bad in ([""], ["good", "   "]):
        with pytest.raises(DataError, match="is empty"):
            fitted.predict(bad)


def test_records_report_unknown_tokens_and_truncation(fitted):
    """English on a Chinese model gave near-random labels with no hint."""
    known, unknown = fitted.predict_records(["good clean room", "zzz qqq good"])
    assert known["unknown_share"] == 0.0 and unknown["unknown_share"] == round(2 / 3, 4)
    long = " ".join(["good"] * (fitted.config_.data.max_length + 1))
    assert fitted.predict_records([long])[0]["truncated"] and not known["truncated"]


def test_a_dataframe_gives_its_text_column(fitted):
    """list(DataFrame) gave the column names as texts."""
    import pandas as pd

    frame = pd.DataFrame({"label": ["pos", "neg"], "text": ["good clean", "awful rude"]})
    assert np.array_equal(fitted.predict(frame), fitted.predict(["good clean", "awful rude"]))


def test_three_labels_get_three_lexicon_columns_per_ngram_order():
    import random

    rng = random.Random(0)
    words = {"pos": GOOD, "neg": BAD, "mid": ["okay", "average", "fine", "so-so"]}
    labels = [rng.choice(sorted(words)) for _ in range(240)]
    texts = [" ".join(rng.choices(FILL, k=4) + rng.choices(words[label], k=2)) for label in labels]
    clf = TextClassifier(**{**TINY, "epochs": 6}).fit(texts[:200], labels[:200], valid=(texts[200:], labels[200:]))
    assert clf.network_.rnn.input_size == 16 + 3 * 3 and clf.labels_ == ["mid", "neg", "pos"]
    assert clf.evaluate(texts[200:], labels[200:])["accuracy"] > 0.9

    # Bug guarded (a mutation test found the other tests blind to it): macro-F1 averaged over a label
    # the test data lacks (F1 0 for "mid", dragging the mean down by a third). It must be
    # scikit-learn's macro average over the labels present (in the truth or the predictions).
    from sklearn.metrics import f1_score

    kept = [i for i in range(200, 240) if labels[i] != "mid"]
    test_texts, test_labels = [texts[i] for i in kept], [labels[i] for i in kept]
    pred = clf.predict(test_texts)
    assert "mid" not in set(pred.tolist())  # so an average over all three labels would differ
    metrics = clf.evaluate(test_texts, test_labels)
    assert set(metrics["per_class"]) == {"neg", "pos"}
    assert metrics["macro_f1"] == pytest.approx(f1_score(test_labels, pred, average="macro"))
    assert metrics["macro_f1"] != pytest.approx(f1_score(test_labels, pred, labels=["mid", "neg", "pos"],
                                                         average="macro", zero_division=0))


def test_balanced_class_weights_match_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    texts, labels = english_reviews(120)
    keep = [i for i, label in enumerate(labels) if label == "pos" or i % 3 == 0]  # fewer "neg"
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    clf = TextClassifier(**{**TINY, "epochs": 1, "class_weights": "balanced"})
    clf.fit(texts, labels, valid=english_reviews(10, 5))
    expected = compute_class_weight("balanced", classes=np.array(["neg", "pos"]), y=np.array(labels))
    np.testing.assert_allclose(clf.network_.class_weights.numpy(), expected, rtol=1e-6)


def test_lexicon_can_be_turned_off():
    texts, labels = english_reviews(40)
    clf = TextClassifier(**{**TINY, "epochs": 1, "lexicon_ngrams": 0}).fit(texts, labels, valid=english_reviews(10, 5))
    assert clf.network_.lexicon is None and clf.network_.rnn.input_size == 16
    assert not any(k.startswith("lexicon") for k in clf.network_.state_dict())


def test_weights_that_do_not_fit_the_config_are_a_model_folder_error(fitted, tmp_path):
    import json

    folder = fitted.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["config"]["model"]["hidden_size"] = 24  # the weights were trained with 16
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: tensor 'rnn\.weight_ih_l0' has shape \[64, 22\], "
                                                r"but the network config\.json describes needs \[96, 22\]"):
        load(folder)


def test_init_only_stores_and_fit_returns_self():
    clf = TextClassifier(hidden_size=8)
    assert clf.hidden_size == 8 and clf.get_params()["hidden_size"] == 8 and not hasattr(clf, "network_")
    texts, labels = english_reviews(40)
    clf = TextClassifier(**{**TINY, "epochs": 1})
    assert clf.fit(texts, labels, valid=english_reviews(10, 5)) is clf
    assert hasattr(clf, "network_") and hasattr(clf, "vocab_") and hasattr(clf, "labels_")


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ConfigError, match="hiden_size.*hidden_size"):
        TextClassifier(hiden_size=3).resolved_config()


def test_bad_hyperparameter_value_names_the_key():
    with pytest.raises(ConfigError, match="model.pooling"):
        TextClassifier(pooling="median").resolved_config()


def test_unknown_label_in_evaluate_is_a_data_error(fitted):
    with pytest.raises(DataError, match="unknown label 'meh' in example 2"):
        fitted.evaluate(["good", "bad"], ["pos", "meh"])


def test_unknown_label_read_from_a_file_names_file_and_line(fitted, tmp_path):
    from lstmkit.data.formats.tables import read_text_classification

    for name, content in [("d.csv", "text,label\ngood,pos\n\"bad\nday\",meh\n"),
                          ("d.jsonl", '{"text": "good", "label": "pos"}\n\n{"text": "bad", "label": "meh"}\n')]:
        (tmp_path / name).write_text(content, encoding="utf-8")
        texts, labels = read_text_classification(tmp_path / name)
        with pytest.raises(DataError, match=rf"{name}, line 3: unknown label 'meh'"):
            fitted.evaluate(texts, labels)
    (tmp_path / "folder" / "pos").mkdir(parents=True)
    (tmp_path / "folder" / "meh").mkdir()
    (tmp_path / "folder" / "pos" / "1.txt").write_text("good", encoding="utf-8")
    (tmp_path / "folder" / "meh" / "2.txt").write_text("bad", encoding="utf-8")
    with pytest.raises(DataError, match=r"2\.txt: unknown label 'meh'"):
        fitted.evaluate(*read_text_classification(tmp_path / "folder"))


def test_one_label_only_names_the_file(tmp_path):
    from lstmkit.data.formats.tables import read_text_classification

    (tmp_path / "one.csv").write_text("text,label\n" + "".join(f"t{i},x\n" for i in range(12)), encoding="utf-8")
    with pytest.raises(DataError, match=r"one\.csv: training data needs at least 2 distinct labels"):
        TextClassifier(**TINY).fit(*read_text_classification(tmp_path / "one.csv"))


def test_one_label_only_is_a_data_error():
    with pytest.raises(DataError, match="at least 2 distinct labels"):
        TextClassifier(**TINY).fit(["a", "b", "c"], ["x", "x", "x"], valid=(["a"], ["x"]))


def test_predict_before_fit_is_an_error():
    with pytest.raises(ModelFolderError, match="not fitted"):
        TextClassifier().predict(["x"])


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention", "max_mean"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_network_ignores_padding(pooling, cell):
    """Logits of a text must not change when the batch around it is padded longer."""
    torch.manual_seed(0)
    cfg = TextModelConfig(embedding_dim=8, hidden_size=8, pooling=pooling, cell=cell, ngram_buckets=100, bigram_dim=4)
    net = TextClassifierNet(50, 2, cfg).eval()
    torch.nn.init.normal_(net.lexicon.table)
    ids = torch.randint(2, 50, (1, 6))
    alone = net(ids, torch.tensor([6]))
    padded = torch.cat([ids, torch.randint(2, 50, (1, 9))], dim=1)
    torch.testing.assert_close(net(padded, torch.tensor([6])), alone)


def test_pretrained_vectors_are_loaded_and_frozen(tmp_path):
    glove = tmp_path / "vectors.txt"
    words = GOOD + BAD + FILL
    rng = np.random.default_rng(0)
    vectors = {w: rng.normal(size=6).round(4) for w in words}
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8")
    texts, labels = english_reviews(80)
    clf = TextClassifier(pretrained_embeddings=str(glove), freeze_embeddings=True, **{**TINY, "epochs": 1})
    clf.fit(texts, labels, valid=english_reviews(20, 1))
    weight = clf.network_.embedding.weight
    assert weight.shape[1] == 6 and not weight.requires_grad
    for w in ("good", "rude", "hotel"):
        np.testing.assert_allclose(weight[clf.vocab_.encode([w])[0]].detach().numpy(), vectors[w], atol=1e-6)


def test_chinese_is_read_by_character():
    texts = ["房间很干净", "服务很差劲", "非常满意", "太失望了"] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    clf = TextClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, valid=(texts[:4], labels[:4]))
    assert clf.tokenizer_.to_config()["name"] == "char"
    assert "净" in clf.vocab_


def test_small_data_gives_small_tables_and_a_small_model(tmp_path):
    """Full-size hashed tables made a 30 MB model folder from 210 sentences."""
    texts, labels = english_reviews(200)
    clf = TextClassifier(**{**TINY, "ngram_buckets": 1 << 20, "lexicon_buckets": 1 << 20, "epochs": 1})
    clf.fit(texts, labels, valid=english_reviews(20, 1))
    from lstmkit.nn.ngrams import buckets_for, distinct_ngrams

    model = clf.config_.model
    assert model.ngram_buckets == buckets_for(distinct_ngrams(clf.encode(texts), 3), 1 << 20) <= 16384
    assert model.lexicon_buckets == model.ngram_buckets  # both count 1..3-grams
    folder = clf.save(tmp_path / "model")
    assert (folder / "model.safetensors").stat().st_size < 500_000
    assert np.array_equal(load(folder).predict(texts[:5]), clf.predict(texts[:5]))


def test_run_with_states_gives_the_gates_that_make_the_outputs(fitted):
    """Explanations must show the gates of the trained model, in (0, 1), and the states they make."""
    (record,) = fitted.run_with_states(["good clean room"])
    assert record["tokens"] == ["good", "clean", "room"]
    forward = record["gates"]["l0"]
    assert set(forward) == {"i", "f", "g", "o", "c"} and forward["i"].shape == (3, 16)
    for name in ("i", "f", "o"):
        assert ((forward[name] > 0) & (forward[name] < 1)).all()
    h = forward["o"] * np.tanh(forward["c"])  # h_t = o_t * tanh(c_t), the first half of the outputs
    np.testing.assert_allclose(record["outputs"][:, :16], h, atol=1e-6)
    ids = torch.tensor([fitted.vocab_.encode(record["tokens"])])
    net = fitted.network_
    fused, _ = net.rnn(net.rnn_inputs(ids, torch.tensor([3])), lengths=torch.tensor([3]))
    np.testing.assert_allclose(record["outputs"], fused[0].detach().numpy(), atol=1e-5)


def test_validation_macro_f1_counts_only_the_labels_present():
    """A class missing from the validation split counted as F1 = 0: accuracy 1.0 with macro-F1 0.75."""
    net = TextClassifierNet(20, 4, TextModelConfig(embedding_dim=4, hidden_size=4, ngram_buckets=0,
                                                   lexicon_ngrams=0))
    outputs = [{"target": torch.tensor([0, 1, 2, 2]), "pred": torch.tensor([0, 1, 2, 2]),
                "lstm_pred": torch.tensor([0, 1, 2, 2])}]
    metrics = net.validation_metrics(outputs)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0
