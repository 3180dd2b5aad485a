"""Small labelled text made up for the tests (the real English corpora cannot be fetched here)."""

import csv
import random
from pathlib import Path

GOOD = ["good", "great", "fine", "lovely", "clean"]
BAD = ["bad", "awful", "poor", "dirty", "rude"]
FILL = ["the", "room", "was", "and", "staff", "very", "food", "a", "hotel"]


def english_reviews(n: int, seed: int = 0):
    """Reviews whose label is given by which word list they draw from."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(FILL, k=rng.randint(2, 8)) + rng.choices(GOOD if label == "pos" else BAD, k=2)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def write_csv(path: Path, texts, labels, header=("text", "label")) -> Path:
    """A CSV of texts and labels (``text,label`` columns by default), as users give lstmkit."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(zip(texts, labels))
    return path
