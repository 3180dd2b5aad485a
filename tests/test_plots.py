"""Plots: PNG files that exist, are images, and are not blank."""

from __future__ import annotations

import math
import warnings

import matplotlib.image
import numpy as np

from lstmkit.plots import plot_confusion_matrix, plot_history, read_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CSV = """epoch,train_loss,val_loss,val_accuracy,val_macro_f1,lr,seconds
1,0.9,0.8,0.5,0.4,0.001,1.5
2,0.6,0.7,0.6,,0.001,1.4
3,0.4,0.65,0.7,0.65,0.0005,1.4
"""


def assert_drawn(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert np.std(pixels[..., :3]) > 0.01  # something was drawn


def test_read_history_types(tmp_path):
    (tmp_path / "metrics.csv").write_text(CSV)
    rows = read_history(tmp_path / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3] and type(rows[0]["epoch"]) is int
    assert rows[2]["val_loss"] == 0.65 and math.isnan(rows[1]["val_macro_f1"])


def test_plot_history_writes_loss_and_one_png_per_metric(tmp_path):
    (tmp_path / "metrics.csv").write_text(CSV)
    written = plot_history(tmp_path / "metrics.csv", tmp_path / "plots")
    assert sorted(p.name for p in written) == ["accuracy.png", "loss.png", "macro_f1.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in written)
    for path in written:
        assert_drawn(path)


def test_plot_history_with_one_epoch_and_with_none(tmp_path):
    (tmp_path / "one.csv").write_text(CSV.splitlines()[0] + "\n" + CSV.splitlines()[1] + "\n")
    assert len(plot_history(tmp_path / "one.csv", tmp_path / "p1")) == 3
    (tmp_path / "none.csv").write_text(CSV.splitlines()[0] + "\n")
    assert plot_history(tmp_path / "none.csv", tmp_path / "p2") == []


def test_confusion_matrix_png_with_chinese_labels(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # missing CJK glyphs must not warn
        path = plot_confusion_matrix([[5, 1], [2, 7]], ["负面", "正面"], tmp_path / "sub" / "cm.png")
    assert path == tmp_path / "sub" / "cm.png"
    assert_drawn(path)


def test_confusion_matrix_handles_empty_rows_and_many_labels(tmp_path):
    labels = [f"class{i}" for i in range(40)]
    matrix = [[(i == j) * 3 for j in range(40)] for i in range(40)]
    matrix[0] = [0] * 40  # a class with no examples
    assert_drawn(plot_confusion_matrix(matrix, labels, tmp_path / "big.png"))
