"""Plots: PNG files that exist, are images, and are not blank; what the figures show (titles,
legends, the kept epoch, ticks, y-range) read from matplotlib's Figure objects; label glyphs
checked against the font file each label is drawn with (FreeType's glyph index 0 is the box)."""

from __future__ import annotations

import math
import warnings

import matplotlib.image
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from lstmkit import fonts, plots
from lstmkit.plots import (
    confusion_figure,
    history_figures,
    plot_confusion_matrix,
    plot_history,
    read_history,
)

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


# ----------------------------------------------------------------------------- what the curves show
FLAT_CSV = """epoch,train_loss,val_loss,val_accuracy
1,0.5,0.3,1.0
2,0.4,0.30000000000000004,1.0
3,0.3,0.3,1.0
"""


def history(tmp_path, text=CSV):
    (tmp_path / "metrics.csv").write_text(text)
    return read_history(tmp_path / "metrics.csv")


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_curves_have_titles_and_say_which_curve_is_validation(tmp_path):
    """Bug: untitled plots, a metric plot without a legend, or "valid"/"train" legends that do
    not say "validation" / "training"."""
    figures = history_figures(history(tmp_path))
    assert sorted(figures) == ["accuracy.png", "loss.png", "macro_f1.png"]
    for fig in figures.values():
        assert fig.axes[0].get_title()
    loss = figures["loss.png"].axes[0]
    assert legend_texts(loss) == ["training loss", "validation loss"]
    assert [line.get_label() for line in loss.get_lines()] == ["training loss", "validation loss"]
    assert legend_texts(figures["accuracy.png"].axes[0]) == ["validation accuracy"]
    assert "validation" in figures["macro_f1.png"].axes[0].get_title()


def test_the_kept_epoch_is_marked_on_every_curve(tmp_path):
    """Bug: the kept epoch not shown, shown at the wrong epoch (0- vs 1-based), or the marker
    put on the training curve's value instead of the validation curve's."""
    figures = history_figures(history(tmp_path), best_epoch=2)
    for name, fig in figures.items():
        ax = fig.axes[0]
        kept = [line for line in ax.get_lines() if line.get_label() == "kept epoch (2)"]
        assert len(kept) == 1 and list(kept[0].get_xdata()) == [2, 2], name
        assert "kept epoch (2)" in legend_texts(ax)
    stars = [line for line in figures["loss.png"].axes[0].get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [2] and list(stars[0].get_ydata()) == [0.7]
    stars = [line for line in figures["accuracy.png"].axes[0].get_lines() if line.get_marker() == "*"]
    assert list(stars[0].get_ydata()) == [0.6]
    # Without a best epoch nothing is marked.
    assert not any("kept" in t for t in legend_texts(history_figures(history(tmp_path))["loss.png"].axes[0]))
    with pytest.raises(ValueError, match="best_epoch 7"):
        history_figures(history(tmp_path), best_epoch=7)


def test_epoch_ticks_are_integers(tmp_path):
    """Bug: matplotlib's default locator puts ticks at 1.25, 1.5, ... for three epochs."""
    for fig in history_figures(history(tmp_path)).values():
        fig.draw_without_rendering()
        ax = fig.axes[0]
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert all(label.lstrip("−-").isdigit() for label in labels), labels


def test_a_flat_curve_gets_a_readable_y_range(tmp_path):
    """Bug: values equal up to rounding (0.3 vs 0.1 + 0.2, accuracy 1.0 throughout) give tick
    labels such as "1e-16" or an offset like "+3e-1" and a range of 1e-16."""
    figures = history_figures(history(tmp_path, FLAT_CSV), best_epoch=3)
    for name in ("accuracy.png", "loss.png"):
        fig = figures[name]
        fig.draw_without_rendering()
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        assert high - low >= 0.01, (name, low, high)
        texts = [t.get_text() for t in ax.get_yticklabels()] + [ax.yaxis.get_offset_text().get_text()]
        assert not any("e" in t.lower() for t in texts), texts
    low, high = figures["accuracy.png"].axes[0].get_ylim()
    assert low < 1.0 < high


def test_plot_history_marks_the_kept_epoch_in_the_files(tmp_path):
    (tmp_path / "metrics.csv").write_text(CSV)
    written = plot_history(tmp_path / "metrics.csv", tmp_path / "plots", best_epoch=3)
    assert sorted(p.name for p in written) == ["accuracy.png", "loss.png", "macro_f1.png"]
    for path in written:
        assert_drawn(path)


# ----------------------------------------------------------------------------- labels in any script
def font_files(prop) -> list[str]:
    """The font file of each family of a Text's FontProperties, in fallback order."""
    return [font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=True)
            for family in prop.get_family()]


def has_glyph(files: list[str], ch: str) -> bool:
    """Whether some font of the fallback list has a glyph for ``ch`` (glyph index 0 = the box)."""
    return any(FT2Font(path).get_char_index(ord(ch)) != 0 for path in files)


def system_has_cjk_font() -> bool:
    """Independently of lstmkit: does any font file of the system have a glyph for 负?"""
    for path in font_manager.findSystemFonts():
        try:
            if FT2Font(path).get_char_index(ord("负")):
                return True
        except (OSError, RuntimeError):
            continue
    return False


def render(text: str, family) -> np.ndarray:
    """The pixels of ``text`` alone, drawn with the font family list ``family``."""
    fig = Figure(figsize=(1, 0.5), dpi=100)
    fig.text(0.5, 0.5, text, fontfamily=family, fontsize=20, ha="center", va="center")
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def test_chinese_labels_are_drawn_with_a_font_that_has_their_glyphs():
    """Bug: labels drawn in DejaVu Sans as empty boxes, e.g. because matplotlib's cached font list
    predates the installed CJK font. Checks the font each tick label actually uses."""
    if not system_has_cjk_font():
        pytest.skip("no CJK font on this machine (CI installs fonts-wqy-zenhei); the fallback is tested below")
    labels = ["负面", "正面", "中性 ok"]
    fig = confusion_figure([[5, 1, 0], [2, 7, 0], [0, 0, 1]], labels)
    ax = fig.axes[0]
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        assert [t.get_text() for t in ticks] == labels
        for tick in ticks:
            files = font_files(tick.get_fontproperties())
            missing = [ch for ch in tick.get_text() if not ch.isspace() and not has_glyph(files, ch)]
            assert not missing, f"{tick.get_text()!r}: no glyph for {missing} in {files}"
    assert fig.legends == []  # no number legend when the labels can be drawn
    # In pixels: two different characters drawn apart differ (two missing-glyph boxes would not),
    # and differ from a character no font has.
    family = ax.get_xticklabels()[0].get_fontproperties().get_family()
    fu, mian, nothing = render("负", family), render("面", family), render("\U0010fffd", family)
    assert not np.array_equal(fu, mian)
    assert not np.array_equal(fu, nothing) and not np.array_equal(mian, nothing)


@pytest.fixture
def no_cjk_font(monkeypatch):
    """A machine whose fonts have no Chinese glyphs (and lstmkit has not warned yet)."""
    monkeypatch.setattr(fonts, "_candidates", list)
    monkeypatch.setattr(fonts, "_add_unlisted_system_fonts", lambda: 0)
    monkeypatch.setattr(plots, "_warned_missing_glyphs", False)
    fonts._choose.cache_clear()
    yield
    fonts._choose.cache_clear()


def test_without_a_cjk_font_the_axes_show_numbers_and_a_legend(no_cjk_font, tmp_path, capsys):
    """Bug: silent empty boxes; or a fallback legend that itself shows boxes; or a warning per plot."""
    choice = fonts.choose_fonts(["负面", "pos"])
    assert choice.missing == "负面" and choice.family == ("DejaVu Sans",)
    for name in ("a.png", "b.png"):
        path = plot_confusion_matrix([[5, 1], [2, 7]], ["负面", "pos"], tmp_path / name)
        assert_drawn(path)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "负面" in err and "fonts-noto-cjk" in err
    fig = confusion_figure([[5, 1], [2, 7]], ["负面", "pos"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["0: \\u8d1f\\u9762", "1: pos"]
    base = font_files(legend.get_texts()[0].get_fontproperties())
    assert all(has_glyph(base, ch) for text in texts for ch in text if not ch.isspace())


def test_latin_labels_need_no_other_font():
    """Bug: a CJK font forced on every plot (it changes how Latin text looks) or the number fallback
    used for labels DejaVu Sans can draw."""
    assert fonts.choose_fonts(["neg", "pos", "Ünïcode-ß", "ok 1"]) == fonts.FontChoice(("DejaVu Sans",))
    fig = confusion_figure([[1, 0], [0, 1]], ["neg", "pos"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["neg", "pos"]
