"""Chinese review sentiment (``chn-reviews`` test split): lstmkit's default against two baselines.

All three are trained and scored in this one run, on the same splits:

1. **seed pipeline** — the tutorial this project grew from: characters without ``，。！？,.!?``,
   pad/truncate to 200 with 0, Embedding 128 -> ``torch.nn.LSTM`` 128 -> tanh -> *last time step*
   -> Linear, Adam 1e-3, batch 32, 10 epochs. Its "last step" is mostly padding.
2. **TF-IDF** — character 1-3-gram TF-IDF + logistic regression (scikit-learn).
3. **lstmkit** — ``TextClassifier()`` with its default config (what ``make demo`` trains).

Also measured: lstmkit's time to reach the seed's test accuracy (test accuracy after each epoch)
and ``predict`` throughput on 10,000 reviews.

Run: ``.venv/bin/python benchmarks/text_classification.py [--seed-epochs 10] [--skip-seed]``
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np
import torch
import yaml
from torch import nn

from lstmkit.data.datasets import load_dataset
from lstmkit.tasks.text import TextClassifier

SEED_PUNCTUATION = re.compile(r"[，。！？,.!?]")


# ---------------------------------------------------------------------- 1. the seed pipeline
class SeedNet(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 128)
        self.lstm = nn.LSTM(128, 128, batch_first=True)
        self.out = nn.Linear(128, 2)

    def forward(self, ids):
        states, _ = self.lstm(self.embedding(ids))  # (B, 200, 128)
        return self.out(torch.tanh(states)[:, -1])  # the last step: padding for short texts


def seed_pipeline(splits, epochs: int, log) -> dict:
    torch.manual_seed(0)
    chars = sorted({c for t in splits["train"][0] for c in SEED_PUNCTUATION.sub("", t)})
    index = {c: i + 1 for i, c in enumerate(chars)}

    def encode(texts):
        out = np.zeros((len(texts), 200), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [index.get(c, 0) for c in SEED_PUNCTUATION.sub("", text)][:200]
            out[row, : len(ids)] = ids
        return torch.from_numpy(out)

    labels = sorted(set(splits["train"][1]))
    x_train, y_train = encode(splits["train"][0]), torch.tensor([labels.index(v) for v in splits["train"][1]])
    x_test, y_test = encode(splits["test"][0]), torch.tensor([labels.index(v) for v in splits["test"][1]])
    net = SeedNet(len(chars) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 32):
            batch = order[i : i + 32]
            loss = nn.functional.cross_entropy(net(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        log(f"  seed epoch {epoch + 1}/{epochs} done at {time.perf_counter() - start:.0f}s")
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x_test[i : i + 256]).argmax(-1) for i in range(0, len(x_test), 256)])
    return {"accuracy": float((pred == y_test).float().mean()), "train_seconds": seconds}


# ---------------------------------------------------------------------- 2. TF-IDF + LR
def tfidf_baseline(splits) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    features = vectorizer.fit_transform(splits["train"][0])
    model = LogisticRegression(C=4.0, max_iter=2000).fit(features, splits["train"][1])
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(vectorizer.transform(splits["test"][0])) == np.array(splits["test"][1])))
    return {"accuracy": accuracy, "train_seconds": seconds}


# ---------------------------------------------------------------------- 3. lstmkit
def lstmkit_default(splits, target: float | None, overrides: dict, log) -> dict:
    test_texts, test_labels = splits["test"]
    curve = []  # (seconds, test accuracy) after each epoch

    def after_epoch(estimator, epoch: int, seconds: float) -> None:
        acc = float(np.mean(np.array(estimator.predict(test_texts)) == np.array(test_labels)))
        curve.append((seconds, acc))
        log(f"  lstmkit epoch {epoch}: test accuracy {acc:.4f} at {seconds:.0f}s")

    clf = TextClassifier(**overrides)
    start = time.perf_counter()
    clf.fit(*splits["train"], valid=splits["valid"], epoch_callback=after_epoch)
    seconds = time.perf_counter() - start
    metrics = clf.evaluate(test_texts, test_labels)
    reached = next((s for s, acc in curve if target is not None and acc >= target), None)

    texts = (test_texts * (10_000 // len(test_texts) + 1))[:10_000]
    clf.predict(texts[:500])  # warm-up
    throughputs = []  # three repeats: the machine's load moves single timings by 10-20%
    for _ in range(3):
        t0 = time.perf_counter()
        clf.predict(texts)
        throughputs.append(round(len(texts) / (time.perf_counter() - t0)))
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "train_seconds": seconds,
            "seconds_to_seed_accuracy": reached, "curve": curve, "predict_per_second": throughputs,
            "predict_per_second_median": sorted(throughputs)[1], "valid": clf.valid_metrics_}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-epochs", type=int, default=10)
    parser.add_argument("--skip-seed", action="store_true", help="skip the (slow) seed pipeline")
    parser.add_argument("--set", action="append", default=[], help="TextClassifier override name=value")
    args = parser.parse_args()

    def log(msg):
        print(msg, flush=True)

    splits = load_dataset("chn-reviews")
    log("chn-reviews: " + ", ".join(f"{k} {len(v[0])}" for k, v in splits.items()))
    results = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    results["tfidf"] = tfidf_baseline(splits)
    log(f"tfidf: {results['tfidf']}")
    if not args.skip_seed:
        results["seed"] = seed_pipeline(splits, args.seed_epochs, log)
        log(f"seed: {results['seed']}")
    target = results.get("seed", {}).get("accuracy")
    # values as YAML reads them ("0" -> 0, "none" -> None): the estimator checks Python values strictly
    overrides = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.set)}
    results["lstmkit"] = lstmkit_default(splits, target, overrides, log)
    log(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
