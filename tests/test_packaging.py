"""The package imports from anywhere: a clone folder called ``lstmkit`` must not shadow it."""

import subprocess
import sys


def test_a_folder_named_lstmkit_beside_a_script_does_not_shadow_the_package(tmp_path):
    """With the flat layout, ``work/lstmkit`` (the clone) was imported as an empty namespace
    package and ``from lstmkit import TextClassifier`` failed (the src layout prevents it)."""
    clone = tmp_path / "lstmkit"
    (clone / "docs").mkdir(parents=True)
    (clone / "README.md").write_text("a clone of the repository\n", encoding="utf-8")
    script = tmp_path / "script.py"
    script.write_text("from lstmkit import TextClassifier, load\nprint(TextClassifier.__module__)\n",
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "lstmkit.tasks.text.estimator"


def test_importing_lstmkit_first_makes_openmp_threads_sleep_soon():
    """Two trainings on the same cores ran 15x slower with OpenMP's long spin-waits; lstmkit sets a
    short spin unless the user chose a waiting policy."""
    import os

    code = "import os, lstmkit.cli; print(os.environ.get('GOMP_SPINCOUNT'))"  # the CLI sets it, before torch
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "1000", run.stderr
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                            capture_output=True, text=True, timeout=60)
    assert chosen.stdout.strip() == "None"


def test_importing_lstmkit_leaves_the_process_environment_alone():
    """``import lstmkit`` set GOMP_SPINCOUNT and ONEDNN_PRIMITIVE_CACHE_CAPACITY for every process
    that used the library (a lone training from Python ran 9% slower); only the CLI and server do."""
    import os

    code = ("import os, lstmkit; from lstmkit import Tagger; "
            "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "ONEDNN_PRIMITIVE_CACHE_CAPACITY")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["None", "None"], run.stderr


def test_the_license_is_an_spdx_string_without_a_deprecation_warning():
    """``license = { text = "MIT" }`` made pip print setuptools' "`project.license` as a TOML table is
    deprecated" on every install; the SPDX string form (PEP 639) gives ``License-Expression: MIT``."""
    import warnings
    from pathlib import Path

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), pyproject)
    assert [str(w.message) for w in caught if "license" in str(w.message).lower()] == []
    assert dist.metadata.license_expression == "MIT"
