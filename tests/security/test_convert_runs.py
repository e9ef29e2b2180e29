"""convert runs the notebook's code: it says so, bounds it in time, and leaves nothing
running (a timed-out pipeline is killed with every process it started)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import make_notebook, run_cli


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_a_hanging_pipeline_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    notebook = make_notebook(
        tmp_path / "hang.ipynb",
        [
            "import subprocess, time\nfrom sklearn.datasets import load_iris\n"
            "from sklearn.tree import DecisionTreeClassifier",
            ("X, y = load_iris(return_X_y=True)", ["nb2prod:load"]),
            (
                "child = subprocess.Popen(['sleep', '300'])\n"
                f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
                "time.sleep(300)\nmodel = DecisionTreeClassifier().fit(X, y)",
                ["nb2prod:train"],
            ),
            ("predictions = model.predict(X[:2])", ["nb2prod:predict"]),
        ],
    )
    started = time.monotonic()
    result = run_cli("convert", str(notebook), "-o", str(tmp_path / "out"), "--timeout", "5")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert time.monotonic() - started < 60
    assert "running the notebook's pipeline once" in result.stderr
    assert "ran longer than 5 s" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()
    assert pid_file.exists() and not _alive(int(pid_file.read_text()))
