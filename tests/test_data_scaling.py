"""Tests of lstmkit.data.scaling.Standardizer against scikit-learn and hand computation."""

import json

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from lstmkit.data.scaling import Standardizer


def test_matches_sklearn_standard_scaler():
    """Bug caught: sample std (ddof=1) instead of population std, or axes swapped."""
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[1.0, -5.0, 100.0], scale=[0.5, 3.0, 20.0], size=(50, 3))
    ours = Standardizer().fit(x)
    ref = StandardScaler().fit(x)
    np.testing.assert_allclose(ours.mean_, ref.mean_)
    np.testing.assert_allclose(ours.scale_, ref.scale_)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x))


def test_hand_computed_values():
    """Bug caught: wrong formula (e.g. dividing by variance); [1, 3] has mean 2, std 1."""
    s = Standardizer().fit(np.array([[1.0], [3.0]]))
    assert s.mean_.tolist() == [2.0] and s.scale_.tolist() == [1.0]
    np.testing.assert_allclose(s.transform(np.array([[5.0]])), [[3.0]])


def test_nan_ignored_when_fitting_and_kept_when_transforming():
    """Bug caught: NaN poisoning the mean (np.mean instead of nanmean) or NaN replaced by 0."""
    x = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan], [5.0, 30.0]])
    s = Standardizer().fit(x)
    np.testing.assert_allclose(s.mean_, [3.0, 20.0])
    np.testing.assert_allclose(s.scale_, [np.std([1, 3, 5]), np.std([10, 20, 30])])
    z = s.transform(x)
    assert np.isnan(z[1, 0]) and np.isnan(z[2, 1])


def test_constant_column_gets_scale_one():
    """Bug caught: division by a zero std giving inf/NaN for a constant covariate."""
    x = np.array([[7.0, 1.0], [7.0, 2.0], [7.0, 3.0]])
    s = Standardizer().fit(x)
    assert s.scale_[0] == 1.0
    np.testing.assert_allclose(s.transform(x)[:, 0], 0.0)


def test_any_leading_shape_and_round_trip():
    """Bug caught: transform assuming 2-D input, or inverse_transform not inverting."""
    rng = np.random.default_rng(1)
    s = Standardizer().fit(rng.normal(size=(40, 4)) * 3 + 2)
    windows = rng.normal(size=(5, 6, 4))  # (W, T, F)
    z = s.transform(windows)
    assert z.shape == windows.shape
    np.testing.assert_allclose(z, (windows - s.mean_) / s.scale_)
    np.testing.assert_allclose(s.inverse_transform(z), windows)
    one_row = s.transform(windows[0, 0])  # (F,)
    np.testing.assert_allclose(one_row, z[0, 0])


def test_float32_kept():
    """Bug caught: silently upcasting network inputs to float64 (a dtype error in torch)."""
    s = Standardizer().fit(np.arange(12, dtype=np.float64).reshape(6, 2))
    assert s.transform(np.ones((3, 2), dtype=np.float32)).dtype == np.float32


def test_json_round_trip_is_plain_and_exact():
    """Bug caught: numpy scalars in the dict (json.dumps fails) or precision lost."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3))
    s = Standardizer(columns=["a", "b", "c"]).fit(x)
    text = json.dumps(s.to_json())
    back = Standardizer.from_json(json.loads(text))
    assert back.columns == ["a", "b", "c"]
    np.testing.assert_array_equal(back.transform(x), s.transform(x))


@pytest.mark.parametrize(
    "data",
    [
        {"mean": [0.0]},
        {"mean": [0.0, 1.0], "scale": [1.0]},
        {"mean": [0.0], "scale": [0.0]},
        {"mean": ["x"], "scale": [1.0]},
        {"mean": [0.0], "scale": [1.0], "columns": ["a", "b"]},
    ],
)
def test_from_json_rejects_bad_files(data):
    """Bug caught: a corrupt scaler.json loading and dividing by zero later."""
    with pytest.raises(ValueError, match="scaler.json"):
        Standardizer.from_json(data)


def test_errors():
    """Bug caught: an all-NaN column fitting to NaN, a wrong width transforming silently."""
    with pytest.raises(ValueError, match="'b'"):
        Standardizer(columns=["a", "b"]).fit(np.array([[1.0, np.nan], [2.0, np.nan]]))
    s = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="last dimension 2"):
        s.transform(np.ones((3, 3)))
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.ones((1, 1)))
