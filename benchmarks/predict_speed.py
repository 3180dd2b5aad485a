"""`predict` throughput of a saved text-classifier model folder on 10,000 chn-reviews test texts.

Run: ``.venv/bin/python benchmarks/predict_speed.py runs/demo-sentiment/model [--repeats 3]``
(after ``make demo``). Loads the folder as a user would, warms up, then times ``predict`` on the
test split repeated to 10,000 texts; prints reviews/s for each repeat.
"""

import argparse
import time

import lstmkit
from lstmkit.data.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = lstmkit.load(args.model_dir)
    test = load_dataset("chn-reviews")["test"][0]
    texts = (test * (10_000 // len(test) + 1))[:10_000]
    model.predict(texts[:500])  # warm-up
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.predict(texts)
        print(f"{len(texts) / (time.perf_counter() - start):.0f} reviews/s", flush=True)


if __name__ == "__main__":
    main()
