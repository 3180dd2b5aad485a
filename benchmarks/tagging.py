"""Tagging benchmark: People's Daily NER (pd-ner) and word segmentation (pd-cws), issue 9's goals.

Goals: pd-ner test entity F1 >= 0.92, pd-cws test word F1 >= 0.955, each trained in at most 15
minutes on the 2-core development machine; decoding >= 2,000 pd-ner test sentences/s on the CPU
(batched, CRF Viterbi included), with the CRF's share of the time; a softmax-vs-CRF row.

Usage (each run trains one model per seed and prints one JSON line per seed and epoch)::

    nice -n 10 env OMP_NUM_THREADS=2 .venv/bin/python benchmarks/tagging.py ner --seeds 13 \\
        --set model.bigram_dim=50 --set model.dictionary=pd-train --epochs 4
    ... benchmarks/tagging.py cws --set model.dictionary=training --set model.bigram_dim=50
    ... benchmarks/tagging.py ner --set model.decoder=softmax          # the softmax row
    ... benchmarks/tagging.py ner --set train.ensemble=3               # + each member, both ensemble rules

The test split is scored after every epoch (``epoch_callback``), so one run shows F1 against
training time; the kept model (best validation F1) is scored at the end, and its decoding speed
is measured on the whole pd-ner test split (median of 3 passes): sentences/s through
``Tagger.predict`` (features, BiLSTM, Viterbi, tags), and the CRF's share: the time of
``crf.decode`` over the time of emissions + decoding, on the same batches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lstmkit.config import build_config
from lstmkit.data.datasets import load_dataset
from lstmkit.nn.ensemble import Ensemble
from lstmkit.tasks.tagger import Tagger, TaggerConfig

DATASETS = {"ner": "pd-ner", "cws": "pd-cws"}


def decoding_speed(tagger: Tagger, sentences: list[list[str]], reps: int = 3) -> dict:
    """Sentences/s of ``predict`` (median of ``reps``), and the CRF's share of the network time."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        tagger.predict(sentences)
        times.append(time.perf_counter() - start)
    net = tagger.network_.eval()
    emit = crf = 0.0
    with torch.inference_mode():
        for batch in tagger._inference_batches([len(s) for s in sentences]):
            tensors = tagger._collate([tagger._encode(sentences[i]) for i in batch])
            start = time.perf_counter()
            emissions = net.emissions(tensors)
            middle = time.perf_counter()
            net.decode(emissions, tensors)
            emit, crf = emit + middle - start, crf + time.perf_counter() - middle
    return {"sentences_per_s": len(sentences) / statistics.median(times), "crf_share": crf / (emit + crf),
            "threads": torch.get_num_threads()}


def ensemble_rules(tagger: Tagger, valid, test) -> dict:
    """An ensemble (``--set train.ensemble=N``): valid and test F1 of each member alone, and of the
    ensemble decoded by each ``model.ensemble_decoding`` rule, all from the same trained members."""
    from lstmkit.tasks.tagger.ensemble import RULES, TaggerEnsemble

    ensemble, members = tagger.network_, list(tagger.network_.members)
    out = {}

    def score(name: str, network) -> None:
        tagger.network_ = network
        out[name] = {"valid_f1": round(tagger.evaluate(*valid)["f1"], 4),
                     "test_f1": round(tagger.evaluate(*test)["f1"], 4)}
        print(json.dumps({name: out[name]}), flush=True)

    for k, member in enumerate(members):
        score(f"member {k}", member)
    for rule in RULES:
        for member in members:
            member.ensemble_decoding = rule
        score(f"ensemble ({rule})", TaggerEnsemble(members).eval())
    for member in members:  # as trained
        member.ensemble_decoding = tagger.config_.model.ensemble_decoding
    tagger.network_ = ensemble
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[13])
    parser.add_argument("--epochs", type=int, default=None, help="default: the tagger's own (train.epochs)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--speed-only", action="store_true", help="train 1 epoch on 2,000 sentences; time decoding")
    args = parser.parse_args()

    splits = load_dataset(DATASETS[args.task])
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    if args.speed_only:
        train = (train[0][:2000], train[1][:2000])
    for seed in args.seeds:
        epochs = 1 if args.speed_only else args.epochs
        cfg = build_config(TaggerConfig, overrides=[*args.overrides, f"train.seed={seed}",
                                                    *([f"train.epochs={epochs}"] if epochs is not None else [])])
        start = time.perf_counter()

        def each_epoch(tagger, epoch, seconds, seed=seed):
            if args.speed_only:
                return
            f1 = tagger.evaluate(*test)["f1"]
            print(json.dumps({"seed": seed, "epoch": epoch, "train_s": round(seconds, 1), "test_f1": round(f1, 4)}),
                  flush=True)

        tagger = Tagger(config=cfg).fit(*train, valid=valid, epoch_callback=each_epoch)
        total = time.perf_counter() - start
        result = {"task": args.task, "seed": seed, "settings": args.overrides, "fit_s": round(total, 1)}
        if not args.speed_only:
            metrics = tagger.evaluate(*test)
            result.update(test_f1=round(metrics["f1"], 4), test_precision=round(metrics["precision"], 4),
                          test_recall=round(metrics["recall"], 4), valid_f1=round(tagger.valid_metrics_["f1"], 4),
                          per_type={k: round(v["f1"], 4) for k, v in metrics["per_type"].items()})
        if isinstance(tagger.network_, Ensemble):
            result["ensemble"] = ensemble_rules(tagger, valid, test)
        result.update({k: round(v, 3) for k, v in decoding_speed(tagger, load_dataset("pd-ner")["test"][0]
                                                                  if args.task == "ner" else test[0]).items()})
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
