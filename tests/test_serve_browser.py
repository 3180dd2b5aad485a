"""The page at ``GET /`` in a real browser: headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Selenium through ``chromedriver``) types, clicks and reads the result from the page,
with no console errors. Skipped when Chromium or chromedriver is not installed
(``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from task_cases import CASES, fit_case
from textdata import english_reviews

from lstmkit import TextClassifier
from lstmkit.serve.app import create_app
from lstmkit.serve.server import ServerThread
from lstmkit.tasks import TASKS, get_task_class

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="needs chromium and chromium-driver")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="lstmkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver, url: str) -> WebDriverWait:
    driver.get(url + "/")
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    return wait


@pytest.fixture(scope="module")
def text_model() -> TextClassifier:
    texts, labels = english_reviews(120)
    return TextClassifier(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16,
                          epochs=2, lr=0.01, scheduler="none", patience=0, unlabeled_text=None).fit(texts, labels)


def test_text_page_shows_label_and_probabilities(browser, text_model):
    """Bug: the page cannot classify a typed text (broken fetch, wrong field names, result not
    shown), shows a label other than the API's, or logs errors in the console."""
    text = "good clean room and lovely staff"
    expected = text_model.predict_records([text])[0]
    with ServerThread(create_app(text_model)) as server:
        wait = open_page(browser, server.url)
        assert "text-classifier" in browser.find_element(By.ID, "title").text
        assert "neg, pos" in browser.find_element(By.ID, "meta").text
        browser.find_element(By.ID, "text").send_keys(text)
        browser.find_element(By.ID, "run-text").click()
        label = wait.until(EC.visibility_of_element_located((By.ID, "label")))
        assert label.text == expected["label"]
        shown = {row.find_element(By.CLASS_NAME, "name").text: float(row.find_element(By.CLASS_NAME, "prob").text)
                 for row in browser.find_elements(By.CSS_SELECTOR, "#result .bar")}
        assert shown == pytest.approx(expected["probabilities"], abs=1e-3)

        # an empty text: the server's 422 message appears on the page, no result
        browser.find_element(By.ID, "text").clear()
        browser.find_element(By.ID, "run-text").click()
        wait.until(lambda d: d.find_element(By.ID, "error").text)
        assert "empty" in browser.find_element(By.ID, "error").text
        assert not browser.find_elements(By.ID, "label")
        errors = [e for e in console_errors(browser) if "422" not in e]  # the refused request itself
    assert errors == []


@pytest.mark.skipif("tagger" not in TASKS, reason="tagger not registered")
def test_tagger_page_highlights_entities(browser, tmp_path):
    """Bug: the tagger's view loses or reorders the text, or highlights spans other than the API's
    entities; predictions shown without their confidence (each entity's score, each token's tag
    probability, as the API gives them)."""
    tagger, case = fit_case("tagger", tmp_path)
    text = next(item for item in case.json_inputs if isinstance(item, str)) + "."  # "today." -> today .
    expected = tagger.predict_records([text])[0]
    assert expected["entities"], "the tiny tagger should find entities here (else the test shows nothing)"
    with ServerThread(create_app(tagger)) as server:
        wait = open_page(browser, server.url)
        browser.find_element(By.ID, "text").send_keys(text)
        browser.find_element(By.ID, "run-text").click()
        tagged = wait.until(EC.visibility_of_element_located((By.ID, "tagged")))
        marks = [(m.get_attribute("data-type"), m.get_attribute("data-score"), m.find_element(By.TAG_NAME, "sup").text)
                 for m in tagged.find_elements(By.CSS_SELECTOR, "mark")]
        text_shown = browser.execute_script(
            "const p = document.getElementById('tagged').cloneNode(true);"
            "p.querySelectorAll('sup').forEach(s => s.remove()); return p.textContent;")
        marked = browser.execute_script(
            "return [...document.querySelectorAll('#tagged mark')].map(m => m.firstChild.textContent);")
        tokens = [(row.find_element(By.CLASS_NAME, "token").text, row.find_element(By.CLASS_NAME, "tag").text,
                   float(row.find_element(By.CLASS_NAME, "prob").text))
                  for row in browser.find_elements(By.CSS_SELECTOR, "#marginals tr.token")]
        errors = console_errors(browser)
    assert text_shown == text
    assert marked == [e["text"] for e in expected["entities"]]
    assert marks == [(e["type"], f"{e['score']:.2f}", f"{e['type']} {e['score']:.2f}") for e in expected["entities"]]
    assert [(t, g) for t, g, _ in tokens] == list(zip(expected["tokens"], expected["tags"]))
    assert tokens[-1][0] == "."  # punctuation is a token of its own
    assert [p for _, _, p in tokens] == pytest.approx(
        [m.get(tag, 0.0) for m, tag in zip(expected["marginals"], expected["tags"])], abs=1e-3)
    assert errors == []


@pytest.mark.skipif("forecaster" not in TASKS, reason="forecaster not registered")
def test_forecaster_page_plots_uploaded_csv(browser, tmp_path):
    """Bug: the forecaster's view cannot upload a CSV, sends it in a form the API refuses, or does
    not plot the forecast the API returns."""
    case = CASES["forecaster"]
    forecaster = get_task_class("forecaster")(**case.params)
    train = case.write_train(tmp_path)
    forecaster.fit(*forecaster.read_data(train))
    expected = forecaster.predict_records(forecaster.read_inputs(train))[0]
    with ServerThread(create_app(forecaster)) as server:
        wait = open_page(browser, server.url)
        browser.find_element(By.ID, "file").send_keys(str(train))
        browser.find_element(By.ID, "run-file").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#forecast-plot polyline.forecast")
                   or d.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        lines = browser.find_elements(By.CSS_SELECTOR, "#forecast-plot polyline.forecast")
        values = [row.text for row in browser.find_elements(By.CLASS_NAME, "forecast-values")]
        errors = console_errors(browser)
    assert len(lines) == len(expected["forecast"])
    for (target, forecast), shown in zip(expected["forecast"].items(), values):
        assert shown.startswith(target + ": ")
        assert [float(v) for v in shown.split(": ", 1)[1].split(", ")] == pytest.approx(forecast, abs=0.006)
    assert errors == []


@pytest.mark.skipif("forecaster" not in TASKS, reason="forecaster not registered")
def test_forecaster_page_draws_axes_band_legend_and_picks_a_series_of_a_panel(browser, tmp_path):
    """Bug: the chart without axes or legend, the interval drawn as dotted lines in the forecast's
    colour instead of a band, a panel's series not selectable, or a series shown with another's
    forecast or history."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    days = pd.date_range("2023-01-01", periods=60, freq="D").strftime("%Y-%m-%d")
    frames = [pd.DataFrame({"shop": shop, "date": days, "sales": level + rng.normal(0, 1, 60).round(2)})
              for shop, level in (("a", 10), ("b", 50), ("c", 90))]
    path = tmp_path / "shops.csv"
    pd.concat(frames).to_csv(path, index=False)
    forecaster = get_task_class("forecaster")(target="sales", id_column="shop", lookback=7, horizon=3, hidden_size=8,
                                              epochs=1, patience=0)
    forecaster.fit(*forecaster.read_data(path))
    expected = forecaster.predict_records(forecaster.read_inputs(path))
    with ServerThread(create_app(forecaster)) as server:
        wait = open_page(browser, server.url)
        assert "shop, date, sales" in browser.find_element(By.ID, "file-label").text
        browser.find_element(By.ID, "file").send_keys(str(path))
        browser.find_element(By.ID, "run-file").click()
        wait.until(lambda d: d.find_elements(By.ID, "series-select") or d.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#series-select option")]
        chart = browser.find_element(By.CSS_SELECTOR, "#forecast-plot svg.forecast-chart")
        x_ticks = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text.x-tick")]
        y_ticks = chart.find_elements(By.CSS_SELECTOR, "text.y-tick")
        legend = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text.legend")]
        bands = chart.find_elements(By.CSS_SELECTOR, "polygon.band")
        browser.find_element(By.CSS_SELECTOR, "#series-select option[value='2']").click()
        wait.until(lambda d: "(c)" in d.find_element(By.CSS_SELECTOR, "#forecast-plot text.chart-title").text)
        shown = browser.find_element(By.CLASS_NAME, "forecast-values").text
        browser.save_screenshot(str(tmp_path / "page.png"))
        errors = console_errors(browser)
    assert options == ["a", "b", "c"]
    assert len(x_ticks) >= 3 and all(t.startswith("2023-") for t in x_ticks) and len(y_ticks) >= 3
    assert legend == ["history", "median forecast", "P10-P90 band"] and len(bands) == 1
    assert [float(v) for v in shown.split(": ", 1)[1].split(", ")] == pytest.approx(expected[2]["forecast"]["sales"],
                                                                                   abs=0.006)
    assert errors == []


def test_sequence_page_takes_the_models_own_long_csv_and_ts_files(browser, tmp_path):
    """Bug: the page parsed a sequence model's own long CSV itself and refused it ("input 0, step 0,
    feature 0: None is not a number"). It must take the files predict --input takes (long CSV, .ts),
    show one row per sequence as the API labels it, and show the server's message naming the
    columns when a file does not fit."""
    model, case = fit_case("sequence-classifier", tmp_path)
    long_csv = case.write_train(tmp_path)
    expected = model.predict_records(model.read_inputs(long_csv))
    ts = tmp_path / "one.ts"
    ts.write_text("@problemName one\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel false\n"
                  "@data\n0,1,2,3:0.5,0.1,0.2,0.4\n", encoding="utf-8")
    (one,) = model.predict_records(model.read_inputs(ts))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,a,b\nq,1,2\n", encoding="utf-8")
    with ServerThread(create_app(model)) as server:
        wait = open_page(browser, server.url)
        assert "sequence_id" in browser.find_element(By.ID, "file-label").text
        browser.find_element(By.ID, "file").send_keys(str(long_csv))
        browser.find_element(By.ID, "run-file").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sequences tr.sequence")
                   or d.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        shown = [(row.find_element(By.CLASS_NAME, "id").text, row.find_element(By.CLASS_NAME, "label").text)
                 for row in browser.find_elements(By.CSS_SELECTOR, "#sequences tr.sequence")]

        browser.find_element(By.ID, "file").send_keys(str(ts))  # one sequence: its label and the bars
        browser.find_element(By.ID, "run-file").click()
        label = wait.until(EC.visibility_of_element_located((By.ID, "label")))
        label_shown = label.text

        browser.find_element(By.ID, "file").send_keys(str(bad))
        browser.find_element(By.ID, "run-file").click()
        wait.until(lambda d: d.find_element(By.ID, "error").text)
        error = browser.find_element(By.ID, "error").text
        errors = [e for e in console_errors(browser) if "422" not in e]  # the refused upload itself
    assert shown == [(r["sequence_id"], str(r["label"])) for r in expected]
    assert label_shown == str(one["label"])
    assert "bad.csv, line 1: no column 'sequence_id'" in error and "sequence_id, a, b, label (optional)" in error
    assert errors == []
