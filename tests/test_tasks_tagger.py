"""The tagger task: learning, decoding rules, metrics against seqeval, records, files and the CLI."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys

import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py, this one included)
import torch
from seqeval.metrics import classification_report, f1_score
from task_case_tagger import tiny_ner

from lstmkit import Tagger, load
from lstmkit.data.formats.conll import read_conll, write_conll
from lstmkit.data.naming import data_named
from lstmkit.data.tagschemes import bio_to_bioes, entities
from lstmkit.errors import ConfigError, DataError, DataWarning
from lstmkit.nn.crf import allowed_transitions
from lstmkit.tasks.tagger import TaggerModelConfig, TaggerNet
from lstmkit.tasks.tagger.dictionary import WordDictionary, fold_of
from lstmkit.tasks.tagger.text import tokenize_with_offsets

TINY = dict(embedding_dim=16, hidden_size=16, batch_size=16, epochs=6, lr=0.02, patience=0, bigram_dim=0,
            dictionary=None, scheduler="none")  # cheap settings, not the defaults


def chinese_ner(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Character sentences "<person>在<place><verb>" with BIO tags: a pattern a tiny model learns."""
    rng = random.Random(seed)
    people, places, verbs = ["张三", "李四", "王小明"], ["北京", "上海", "广州市"], ["工作", "开会", "讲话"]
    tokens, tags = [], []
    for _ in range(n):
        person, place, verb = rng.choice(people), rng.choice(places), rng.choice(verbs)
        tokens.append(list(person + "在" + place + verb))
        tags.append(["B-PER"] + ["I-PER"] * (len(person) - 1) + ["O"] + ["B-LOC"] + ["I-LOC"] * (len(place) - 1)
                    + ["O"] * len(verb))
    return tokens, tags


@pytest.fixture(scope="module")
def ner():
    X, y = chinese_ner(200, seed=0)
    return Tagger(**TINY).fit(X, y, valid=chinese_ner(40, seed=1))


def test_learns_entities_and_reports_character_offsets(ner):
    """Offsets computed on tokens instead of the text would point at the wrong characters once
    the text holds spaces."""
    metrics = ner.evaluate(*chinese_ner(50, seed=2))
    assert metrics["f1"] == 1.0 and metrics["n_sentences"] == 50
    (record,) = ner.predict_records(["李四 在 上海 开会"])
    assert record["tokens"] == list("李四在上海开会")
    assert [{k: v for k, v in e.items() if k != "score"} for e in record["entities"]] == [
        {"type": "PER", "start": 0, "end": 2, "text": "李四"}, {"type": "LOC", "start": 5, "end": 7, "text": "上海"}]
    (by_tokens,) = ner.predict_records([list("李四在上海开会")])  # token input: token offsets
    assert [(e["start"], e["end"], e["text"]) for e in by_tokens["entities"]] == [(0, 2, "李四"), (3, 5, "上海")]


def test_metrics_equal_seqeval(ner):
    """Our entity counting must be seqeval's, also on the ill-formed sequences a model emits."""
    X, y = chinese_ner(60, seed=3)
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    y = [[rng.choice(tags) if rng.random() < 0.2 else t for t in row] for row in y]  # noisy gold, ill-formed
    metrics = ner.evaluate(X, y)
    pred = ner.predict(X)
    assert metrics["f1"] == pytest.approx(f1_score(y, pred))
    report = classification_report(y, pred, output_dict=True, zero_division=0)
    for entity_type, row in metrics["per_type"].items():
        assert row["f1"] == pytest.approx(report[entity_type]["f1-score"])
        assert row["support"] == report[entity_type]["support"]


@pytest.mark.parametrize("scheme,labels", [
    ("BIO", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
    ("BIOES", ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]),
    ("BMES", ["B", "M", "E", "S"]),
])
@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_constrained_decoding_never_emits_an_illegal_sequence(scheme, labels, decoder):
    """An untrained network's scores favour illegal moves half the time; the decoder must still
    return only sequences the scheme allows, and the best legal one (checked by brute force)."""
    torch.manual_seed(0)
    net = TaggerNet(30, labels, scheme, TaggerModelConfig(embedding_dim=8, hidden_size=8, decoder=decoder, bigram_dim=0,
                                                          dictionary=None)).eval()
    rules = allowed_transitions(labels, scheme)
    lengths = torch.tensor([5, 4, 2, 1])
    batch = {"ids": torch.randint(2, 30, (4, 5)) * (torch.arange(5) < lengths[:, None]), "lengths": lengths}
    with torch.no_grad():
        emissions = net.emissions(batch) * 5
        paths = net.decode(emissions, batch)
    for b, path in enumerate(paths):
        assert len(path) == lengths[b] and rules.allows(path)
        n = int(lengths[b])
        legal = [p for p in itertools.product(range(len(labels)), repeat=n) if rules.allows(list(p))]
        with torch.no_grad():
            scores = net.crf.score(emissions[b:b + 1, :n].expand(len(legal), -1, -1), torch.tensor(legal))
            best = float(net.crf.score(emissions[b:b + 1, :n], torch.tensor([path]))[0])
        assert best == pytest.approx(float(scores.max()))


def test_softmax_decoder_without_constraints_is_the_argmax():
    """Unconstrained softmax decoding must be each token's most probable tag, nothing joint."""
    torch.manual_seed(1)
    cfg = TaggerModelConfig(embedding_dim=8, hidden_size=8, decoder="softmax", constrained=False, bigram_dim=0,
                            dictionary=None)
    net = TaggerNet(30, ["O", "B-PER", "I-PER"], "BIO", cfg).eval()
    batch = {"ids": torch.randint(2, 30, (3, 6)), "lengths": torch.tensor([6, 6, 6])}
    with torch.no_grad():
        emissions = net.emissions(batch)
    assert net.decode(emissions, batch) == emissions.argmax(-1).tolist()


def test_softmax_tagger_learns_too():
    """model.decoder=softmax must train (the CRF's row in the benchmark needs it)."""
    X, y = chinese_ner(200, seed=0)
    tagger = Tagger(**TINY, decoder="softmax").fit(X, y, valid=chinese_ner(40, seed=1))
    assert tagger.evaluate(*chinese_ner(50, seed=2))["f1"] > 0.95


def test_bioes_training_returns_bio_predictions():
    """Training in BIOES must be invisible to the user: tags come back in the data's BIO."""
    X, y = chinese_ner(200, seed=0)
    tagger = Tagger(**TINY, train_scheme="BIOES").fit(X, y, valid=chinese_ner(40, seed=1))
    assert any(t.startswith("E-") for t in tagger.tags_) and tagger.scheme_ == "BIO"
    X_test, y_test = chinese_ner(30, seed=4)
    assert tagger.predict(X_test) == y_test
    assert bio_to_bioes(y_test[0]) != y_test[0]


def illegal_ner(n: int, seed: int):
    """chinese_ner with every 7th sentence's second character tagged I-LOC: "张 B-PER / 三 I-LOC"."""
    X, y = chinese_ner(n, seed)
    for i in range(0, n, 7):
        y[i][1] = "I-LOC"
    return X, y


def test_illegal_tag_moves_warn_are_read_as_seqeval_reads_them_or_fail_when_strict(tmp_path):
    """"Mary B-PER / Jones I-LOC" was taken silently: the constrained CRF found the gold sequence
    impossible (a -1e4 score), so the loss stayed in the hundreds. Training must warn once, naming the
    file, the first lines and the count, learn the tags as seqeval reads them (the I-LOC is a LOC of
    its own), and data.strict_tags=true must make it an error naming the line."""
    path = write_conll(tmp_path / "train.conll", *illegal_ner(200, seed=0))
    tagger = Tagger(**TINY)
    with pytest.warns(DataWarning) as caught:
        tagger.fit(*tagger.read_data(path))
    (warning,) = [w for w in caught if issubclass(w.category, DataWarning)]
    assert str(warning.message).startswith(f"{path}: 39 tags break the BIO order (lines 2, 62, 63, 123, 182, ...); "
                                           "read as seqeval and conlleval read them: an I- after O or after "
                                           "another type starts a new entity. Set data.strict_tags=true")
    assert max(row["train_loss"] for row in tagger.history_[1:]) < 5  # the CRF can learn what it is given
    assert "B-LOC" in tagger.tags_ and tagger.evaluate(*chinese_ner(50, seed=2))["f1"] > 0.9
    with pytest.raises(DataError, match=f"{path}, line 2: tag 'I-LOC' after 'B-PER' breaks the BIO order"):
        Tagger(**{**TINY, "epochs": 1}, strict_tags=True).fit(*tagger.read_data(path))
    with pytest.warns(DataWarning, match=r"^the training tags: 39 tags break the BIO order \(sentence 1, token 2, "):
        Tagger(**{**TINY, "epochs": 1}).fit(*illegal_ner(200, seed=0), valid=chinese_ner(20, seed=1))


def test_evaluate_converts_the_other_entity_scheme_and_says_so():
    """A model trained on BIOES data scored a BIO file with token accuracy 0.79 without a word (B-X
    against S-X): the file's tags must be converted to the model's scheme, with one warning."""
    X, y = chinese_ner(200, seed=0)
    tagger = Tagger(**TINY).fit(X, [bio_to_bioes(row) for row in y], valid=(X[:20], [bio_to_bioes(r) for r in y[:20]]))
    assert tagger.scheme_ == "BIOES"
    X_test, y_test = chinese_ner(50, seed=2)
    in_bioes = tagger.evaluate(X_test, [bio_to_bioes(row) for row in y_test])
    with pytest.warns(DataWarning, match="test.conll: its tags are BIO, the model's BIOES: converted to BIOES "
                                         r"before scoring \(the same entities\)"):
        with data_named("test.conll"):
            in_bio = tagger.evaluate(X_test, y_test)
    assert in_bio == in_bioes and in_bio["token_accuracy"] > 0.95


def test_bmes_segmentation_gives_words_and_uses_a_cross_fitted_dictionary(tmp_path):
    """A BMES model's records must carry the words; its dictionary must survive the model folder."""
    words = [["上海", "是", "中国", "的", "城市"], ["北京", "是", "首都"], ["中国", "人民", "很", "好"]] * 40
    X = [list("".join(s)) for s in words]
    from lstmkit.data.tagschemes import bmes_tags

    y = [bmes_tags(s) for s in words]
    tagger = Tagger(**{**TINY, "dictionary": "training", "bigram_dim": 8}).fit(X, y, valid=(X[:10], y[:10]))
    assert tagger.evaluate(X[:20], y[:20])["f1"] == 1.0
    (record,) = tagger.predict_records(["北京是中国的城市"])
    assert record["words"] == ["北京", "是", "中国", "的", "城市"] and record["entities"] == []
    tagger.save(tmp_path / "cws")
    same = load(tmp_path / "cws")
    assert same.predict_records(["北京是中国的城市"]) == [record]
    assert (tmp_path / "cws" / "dictionary.json").is_file() and (tmp_path / "cws" / "bigrams.json").is_file()


def test_the_default_dictionary_suits_the_data_and_is_saved_as_chosen(tmp_path):
    """model.dictionary=auto (the default) must pick the training words for BMES tags, pd-train for
    character-level entities and nothing for words, and the model folder must say which, or a loaded
    model would build another network than the one it was trained as."""
    from lstmkit.data.tagschemes import bmes_tags

    cheap = {k: v for k, v in TINY.items() if k != "dictionary"} | {"epochs": 1}
    words = [["上海", "是", "中国", "的", "城市"], ["北京", "是", "首都"]] * 10
    bmes = Tagger(**cheap).fit([list("".join(s)) for s in words], [bmes_tags(s) for s in words])
    english = Tagger(**cheap).fit([["Anna", "met", "Bob"], ["Bob", "left"]] * 10,
                                  [["B-PER", "O", "B-PER"], ["B-PER", "O"]] * 10)
    chinese = Tagger(**cheap).fit(*chinese_ner(20, seed=0))
    assert Tagger().resolved_config().model.dictionary == "auto"
    chosen = {"bmes": bmes, "english": english, "chinese": chinese}
    assert {name: t.config_.model.dictionary for name, t in chosen.items()} == \
        {"bmes": "training", "english": None, "chinese": "pd-train"}
    assert english.dictionary_ is None and bmes.dictionary_ is not None and chinese.dictionary_ is not None
    english.save(tmp_path / "english")
    assert load(tmp_path / "english").predict([["Anna", "left"]]) == english.predict([["Anna", "left"]])


def test_dictionary_features_match_brute_force():
    """Every dictionary word occurrence marks B, M, E (S for one token) -- checked against a naive scan."""
    rng = random.Random(0)
    alphabet = "abcd"
    vocabulary = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(15)}
    dictionary = WordDictionary({w: -1 for w in vocabulary}, max_word=3, folds=5)
    for _ in range(30):
        tokens = [rng.choice(alphabet) for _ in range(rng.randint(1, 9))]
        expected = torch.zeros(len(tokens), 4)
        for i in range(len(tokens)):
            for j in range(i + 1, min(i + 3, len(tokens)) + 1):
                if "".join(tokens[i:j]) in vocabulary:
                    if j - i == 1:
                        expected[i, 3] = 1
                    else:
                        expected[i, 0] = expected[j - 1, 2] = 1
                        expected[i + 1:j - 1, 1] = 1
        assert torch.equal(dictionary.features(tokens), expected), tokens


def test_cross_fitting_hides_the_words_only_a_sentence_own_fold_has():
    """Without cross-fitting a training sentence always finds its own words (features new text lacks)."""
    sentences = [["上海", "是", "城市"], ["北京", "是", "首都"]]
    dictionary = WordDictionary.from_segmented(sentences, max_word=4, folds=7)
    chars = list("上海是城市")
    fold = fold_of(chars, 7)
    assert fold != fold_of(list("北京是首都"), 7)
    assert dictionary.features(chars)[0].tolist() == [1, 0, 0, 0]  # 上海 begins at 0
    held = dictionary.features(chars, fold)
    assert held[0].tolist() == [0, 0, 0, 0] and held[2].tolist() == [0, 0, 0, 1]  # 是 is also in the other fold


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_character_features_train_and_do_not_depend_on_padding(kind, tmp_path):
    """Character features must see each word's own characters: a sentence tagged alone and in a
    batch with longer words and sentences must get the same emissions."""
    X, y = tiny_ner(80, seed=0)
    tagger = Tagger(**TINY, char_features=kind, char_dim=8, char_hidden=8).fit(X, y, valid=tiny_ner(20, seed=1))
    assert tagger.evaluate(*tiny_ner(30, seed=2))["f1"] == 1.0
    net = tagger.network_.eval()
    short, long = ["Anna", "left"], ["Maria", "visited", "Berlin", "today", "extraordinarily"]
    with torch.no_grad():
        alone = net.emissions(tagger._collate([tagger._encode(short)]))
        both = net.emissions(tagger._collate([tagger._encode(long), tagger._encode(short)]))
    torch.testing.assert_close(both[1, :2], alone[0])
    tagger.save(tmp_path / "m")
    assert load(tmp_path / "m").predict(X[:5]) == tagger.predict(X[:5])


def test_nbest_starts_with_the_best_path(ner):
    """The first n-best path must be predict()'s, and scores must fall."""
    texts = ["张三在北京工作", "王小明在广州市讲话"]
    nbest = ner.predict_nbest(texts, n=3)
    assert [paths[0]["tags"] for paths in nbest] == ner.predict(texts)
    for paths in nbest:
        scores = [p["score"] for p in paths]
        assert scores == sorted(scores, reverse=True) and len(paths) == 3


def brute_confidence(tagger, tokens: list[str]):
    """Per-token marginals (L, K) and {entity: probability} of one sentence, by enumerating every
    tag sequence of the model's tags under its CRF (the -1e4 penalties of disallowed moves included)."""
    net = tagger.network_.eval()
    with torch.no_grad():
        emissions = net.emissions(tagger._collate([tagger._encode(tokens)]))[0].double()  # (L, K)
        paths = torch.tensor(list(itertools.product(range(len(tagger.tags_)), repeat=len(tokens))))
        crf = net.crf.double()
        p = torch.softmax(crf.score(emissions.expand(len(paths), -1, -1), paths), dim=0)
        crf.float()
    marginals = torch.zeros(len(tokens), len(tagger.tags_), dtype=torch.float64)
    spans: dict = {}
    for path, weight in zip(paths.tolist(), p.tolist()):
        for t, k in enumerate(path):
            marginals[t, k] += weight
        for span in entities([tagger.tags_[k] for k in path], tagger.model_scheme_):
            spans[span] = spans.get(span, 0.0) + weight
    return marginals, spans


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_confidence_is_the_crfs_probability_by_brute_force(ner, scheme):
    """Predictions carried no confidence. Each entity's score must be the CRF's probability that a
    tag sequence has exactly this entity, and the per-token marginals p(y_t | sentence), both
    checked by enumerating every tag sequence of a short sentence (5^5 and 9^4 of them)."""
    tagger = ner if scheme == "BIO" else Tagger(**TINY, train_scheme="BIOES").fit(
        *chinese_ner(200, seed=0), valid=chinese_ner(40, seed=1))
    tokens = list("李四在上海" if scheme == "BIO" else "李四在京")
    (record,) = tagger.predict_records([tokens])
    marginals, spans = brute_confidence(tagger, tokens)
    assert record["entities"] and all(0 < e["score"] <= 1 for e in record["entities"])
    for e in record["entities"]:
        model_span = next(span for span in spans if span[0] == e["type"] and span[1:] == (e["start"], e["end"]))
        assert e["score"] == pytest.approx(spans[model_span], abs=1e-4)
    names, expected = tagger._scheme_marginals(marginals.numpy())
    for t, shown in enumerate(record["marginals"]):
        assert sum(shown.values()) == pytest.approx(1.0, abs=1e-3)
        for name, p in zip(names, expected[t]):
            assert shown.get(name, 0.0) == pytest.approx(p, abs=1e-4)
    assert set(record["marginals"][0]) <= set(names) and all(t.split("-")[0] in "BIO" for t in names)  # BIO names


def test_softmax_confidence_is_the_smallest_token_marginal():
    """Without a CRF an entity's score is its tokens' smallest softmax probability of their tags."""
    X, y = chinese_ner(200, seed=0)
    tagger = Tagger(**TINY, decoder="softmax").fit(X, y, valid=chinese_ner(40, seed=1))
    tokens = list("王小明在广州市讲话")
    (record,) = tagger.predict_records([tokens])
    with torch.no_grad():
        probabilities = tagger.network_.emissions(tagger._collate([tagger._encode(tokens)]))[0].exp()
    ids = [tagger.tags_.index(tag) for tag in record["tags"]]
    for e in record["entities"]:
        expected = min(float(probabilities[t, ids[t]]) for t in range(e["start"], e["end"]))
        assert e["score"] == pytest.approx(expected, abs=1e-4)
    assert len(record["entities"]) == 2


def test_raw_english_text_is_split_at_punctuation_with_offsets_kept():
    """'Berlin.' was one token (unknown, tagged as it came); punctuation must be cut off words in
    raw non-Chinese text (--text, .txt, the server), with entities still cut from the text."""
    X, y = tiny_ner(80, seed=0)
    tagger = Tagger(**TINY).fit(X, y, valid=tiny_ner(20, seed=1))
    text = "Anna visited Berlin. Peter saw Rome, today!"
    (record,) = tagger.predict_records([text])
    assert record["tokens"] == ["Anna", "visited", "Berlin", ".", "Peter", "saw", "Rome", ",", "today", "!"]
    assert [(e["type"], e["text"]) for e in record["entities"]] == [("PER", "Anna"), ("LOC", "Berlin"),
                                                                   ("PER", "Peter"), ("LOC", "Rome")]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in record["entities"])
    assert tagger.predict_records(tagger.inputs_from_json([text])) == [record]  # the server's path
    assert Tagger(**TINY, text_tokenizer="whitespace").fit(X, y).predict_records([text])[0]["tokens"][2] == "Berlin."


def test_tokenizers_keep_offsets_into_the_text():
    """Entity text is cut from the original text by these offsets."""
    words, _ = tokenize_with_offsets("Germany's U.S. envoy didn't say 3.5% (1,000 New-York fans)...", "words")
    assert words == ["Germany", "'s", "U.S.", "envoy", "did", "n't", "say", "3.5", "%", "(", "1,000", "New-York",
                     "fans", ")", "..."]
    for how in ("char", "words", "whitespace", "jieba"):
        text = "我 爱北京  天安门 ok"
        tokens, offsets = tokenize_with_offsets(text, how)
        assert [text[s:e] for s, e in offsets] == tokens and all(t.strip() == t and t for t in tokens)


def test_bad_inputs_are_data_errors_naming_the_place(ner, tmp_path):
    """Each user mistake must say what and where, never crash inside torch."""
    with pytest.raises(DataError, match="sentence 2: 2 tokens but 1 tags"):
        ner.evaluate([["张"], ["张", "三"]], [["B-PER"], ["B-PER"]])
    with pytest.raises(DataError, match="empty text"):
        ner.predict(["  "])
    with pytest.raises(DataError, match="sentence 1: empty sentence"):
        ner.predict([[]])
    bad = tmp_path / "gold.conll"
    bad.write_text("张 B-PER\n三 I-PER\n\n李 B-PER\n四 X-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{bad}, line 5"):
        ner.evaluate(*ner.read_data(bad))  # the gold tags carry their file and lines
    unknown = tmp_path / "unknown.conll"
    unknown.write_text("张 B-PER\n三 I-PER\n\n李 B-ORG\n四 I-ORG\n", encoding="utf-8")
    X, y = ner.read_data(unknown)
    with pytest.raises(DataError, match=f"{unknown}, line 4: unknown tag 'B-ORG'"):
        Tagger(**{**TINY, "epochs": 1}).fit(*chinese_ner(20, 0), valid=(X, y))
    with pytest.raises(ConfigError, match="model.dictionary"):
        Tagger(**{**TINY, "epochs": 1, "dictionary": "training"}).fit(*chinese_ner(20, 0))
    with pytest.raises(DataError, match="input 2: expected a text"):  # counted from 1
        ner.inputs_from_json(["张三", 5])


def test_conll_output_appends_the_predicted_tag_to_the_input_rows(ner, tmp_path):
    """predict --output x.conll on CoNLL input must keep the gold column, so the file can be scored."""
    X, y = chinese_ner(5, seed=7)
    gold = write_conll(tmp_path / "gold.conll", X, y)
    inputs = ner.read_inputs(gold)
    ner.write_predictions(ner.predict_records(inputs), tmp_path / "out.conll", inputs=inputs)
    tokens, gold_tags = read_conll(tmp_path / "out.conll", tag_column=-2)
    _, predicted = read_conll(tmp_path / "out.conll")
    assert tokens == X and gold_tags == y and predicted == ner.predict(X)


def test_cli_train_evaluate_predict(tmp_path):
    """The verbs a user types: train one epoch on a few hundred People's Daily sentences, evaluate
    --json (one JSON object on stdout), predict raw text --json (JSON Lines). (CoNLL output is
    test_conll_output_appends_the_predicted_tag_to_the_input_rows.)"""
    from lstmkit.data.datasets import load_dataset

    splits = load_dataset("pd-ner")
    train = write_conll(tmp_path / "train.conll", *[part[:300] for part in splits["train"]])
    test = write_conll(tmp_path / "test.conll", *[part[:50] for part in splits["test"]])
    run = [sys.executable, "-m", "lstmkit"]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        check=False,
        args=run
        + [
            "train",
            "tagger",
            "--train",
            str(train),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--set",
            "model.hidden_size=16",
            "--set",
            "model.embedding_dim=16",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    model = str(tmp_path / "run" / "model")
    done = subprocess.run(
        check=False,
        args=run + ["evaluate", model, "--data", str(test), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert set(metrics) >= {"precision", "recall", "f1", "per_type", "token_accuracy"} and metrics["n_sentences"] == 50
    done = subprocess.run(
        check=False,
        args=run + ["predict", model, "--text", "江泽民在北京", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["text"] == "江泽民在北京" and len(record["tags"]) == 6
