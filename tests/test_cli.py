"""The `s2f` command line: every subcommand turns a user's mistake into one line and an exit code."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import COMMANDS, _parser, main
from tests.conftest import PROJECT


@pytest.mark.parametrize(("argv", "words"), [
    (["contact-sheet", "--faces", "{tmp}/none"], "s2f contact-sheet: {tmp}/none: not found"),
    (["face-grid", "--decoder", "{tmp}/none"], "s2f face-grid: no trained face decoder at {tmp}/none"),
    (["results", "--metrics", "{tmp}/none.json"], "s2f results: no {tmp}/none.json: run `make run`"),
    (["results", "--metrics", "{tmp}/bad.json"], "s2f results: {tmp}/bad.json: not evaluation results"),
    (["results", "--metrics", str(PROJECT / "reports/metrics.json"), "--within", "{tmp}/none.json"],
     "s2f results: {tmp}/none.json: no such file; run `make reproduce`"),
    (["results", "--metrics", str(PROJECT / "reports/metrics.json"), "--within", "{tmp}/bad.json"],
     "s2f results: {tmp}/bad.json: damaged or from an older s2f; remake it with `make reproduce`"),
    (["params", "--check", "{tmp}/none.md"], "s2f params: {tmp}/none.md: the parameter reference is not what "
                                             "s2f/config.py gives"),
    (["columns", "--check", str(PROJECT / "README.md")], f"s2f columns: {PROJECT / 'README.md'}: no columns block"),
    (["columns", "--check", "{tmp}/none.md"], "s2f columns: {tmp}/none.md: No such file or directory"),
    (["predict", "{tmp}/none.wav"], "s2f predict: {tmp}/none.wav: no such file"),
    (["app", "--models", "{tmp}/none", "--port", "1"], "s2f app: "),
])
def test_a_users_mistake_is_one_line_and_exit_1(argv: list[str], words: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture):
    (tmp_path / "bad.json").write_text("{not json")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(words.format(tmp=tmp_path)) and "Traceback" not in err


@pytest.mark.parametrize("text", ['{"clips": 3}', "{not json",  # the script's output cut short; not JSON
                                  '{"trained_on": "synth", "clips": 3, "agree": 2, "agreement": 0.67, '
                                  '"interval": [0.1, 0.9], "predicted_m": 2, "source": "x"}'])  # no truth_m
def test_a_damaged_real_voices_file_beside_the_metrics_is_one_line(text: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture):
    from tests.conftest import PROJECT

    (tmp_path / "metrics.json").write_bytes((PROJECT / "reports/metrics.json").read_bytes())
    (tmp_path / "real_voices.json").write_text(text)
    assert main(["results", "--metrics", str(tmp_path / "metrics.json"), "--check", str(PROJECT / "README.md")]) == 1
    assert capsys.readouterr().err == (f"s2f results: {tmp_path}/real_voices.json: damaged or from an older s2f; "
                                       "remake it with `python scripts/real_voices.py`\n")


def test_results_within_places_one_run_against_intervals_made_with_other_models(tmp_path: Path,
                                                                                capsys: pytest.CaptureFixture):
    """After a `make run` on another machine (other models: CPU training is not bit-exact), `s2f results
    --within` says whether its metrics land inside the committed intervals over seeds, naming any cell outside."""
    from s2f.evaluate.report import outside_intervals
    from s2f.evaluate.results import EvaluationResults, SeedResults

    reports = PROJECT / "reports"  # the committed intervals, or your own make run's metrics beside them
    seeds = SeedResults.model_validate_json((reports / "seeds.json").read_bytes()).model_copy(
        update={"evaluation": EvaluationResults.read(reports / "metrics.json").fingerprint()})  # made with these
    seeds.write(tmp_path / "seeds.json")
    within = ["--within", str(tmp_path / "seeds.json")]
    assert main(["results", "--metrics", str(reports / "metrics.json"), *within]) == 0
    assert capsys.readouterr().out.startswith("The models `make run` trains (the first of these runs")

    metrics = json.loads((reports / "metrics.json").read_text())
    metrics["6s"]["voice"]["retrieval"]["cosine"]["R@1"] = 0.99  # another run, far above the interval
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    checked, outside = outside_intervals(EvaluationResults.read(tmp_path / "metrics.json"), seeds)
    assert main(["results", "--metrics", str(tmp_path / "metrics.json"), "--within"]) == 0  # seeds.json beside it
    out = capsys.readouterr().out
    assert out.startswith(f"The models scored in {tmp_path}/metrics.json, which are not the first of the 3 runs")
    assert f"in {checked - len(outside)} of the {checked} method and metric cells; outside: " in out
    r1 = seeds.lengths["6s"]["voice"]["R@1"]
    assert f"6s s2f voice encoder R@1 99.0 [{100 * r1.lo:.1f}, {100 * r1.hi:.1f}]" in out


def test_every_subcommand_is_dispatched():
    parser = _parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(choices) == set(COMMANDS)


def test_a_bad_parameter_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["predict", "x.wav", "--params", "params.yaml", "--set", "predict.seconds=-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("s2f: ") and "predict.seconds" in err


_KERNELS = """import json, sys
import flows.cli
assert "numpy" not in sys.modules, "the CLI loaded numpy before it could pin OpenBLAS's kernel"
from flows.env import configure
configure()
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
print(json.dumps(sorted({i["architecture"] for i in threadpool_info() if i["internal_api"] == "openblas"})))
"""


def test_openblas_runs_the_same_kernel_on_every_avx2_machine():
    """numpy's and scipy's OpenBLAS choose kernels by CPU (the attribute classifiers' bytes differed between an
    AVX2 and an AVX-512 machine): the CLI pins the AVX2 one before numpy loads, wherever the CPU has AVX2 + FMA."""
    from flows.env import blas_kernel

    assert blas_kernel("flags\t\t: fpu sse2 avx\n") == {}  # an older CPU keeps OpenBLAS's own choice
    pinned = blas_kernel("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f\n")
    assert pinned == ({"OPENBLAS_CORETYPE": "Haswell"} if platform.machine() in ("x86_64", "AMD64") else {})
    if not blas_kernel():
        pytest.skip("this CPU has no AVX2 + FMA: OpenBLAS keeps its own kernel here")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    done = subprocess.run([sys.executable, "-c", _KERNELS], capture_output=True, text=True, env=env, cwd=PROJECT,
                          check=True)
    assert json.loads(done.stdout) == ["Haswell"]  # numpy's and scipy's libraries alike
