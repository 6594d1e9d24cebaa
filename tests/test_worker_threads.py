"""A worker process limits its OCR libraries to `ocr_threads` threads (OpenCV's pool, BLAS), so N
worker processes on N cores do not each run N threads per library; 0 leaves the defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fleet import child_env
from core.context import AppContext
from core.migrate import upgrade
from core.settings import Settings, load_settings
from core.threads import THREAD_VARIABLES

REPO = Path(__file__).resolve().parents[1]
# One empty worker pass, then what the OCR's libraries run with once loaded: OpenCV's thread
# count and the process's threads after a matrix product large enough for BLAS to fan out.
CHILD = """
import json, os
from core.context import AppContext
from core.settings import load_settings
from intake.worker import run_worker
run_worker(AppContext.from_settings(load_settings()), once=True)
import cv2, numpy
numpy.ones((600, 600)) @ numpy.ones((600, 600))
print(json.dumps({"cv2": cv2.getNumThreads(), "threads": len(os.listdir("/proc/self/task"))}))
"""


@pytest.fixture
def worker_settings(tmp_path: Path) -> Settings:
    settings = load_settings(
        var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'w.sqlite3'}",
        smtp_enabled=False, _env_file=None,
    )  # fmt: skip
    ctx = AppContext.from_settings(settings)
    upgrade(ctx.engine)
    ctx.engine.dispose()
    return settings


def libraries_in_worker(settings: Settings, **env: str) -> dict[str, int]:
    environment = child_env(settings, **env)
    for name in THREAD_VARIABLES:  # set in this process by an earlier in-process worker
        environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=environment, cwd=REPO, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    found: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_worker_runs_its_ocr_on_one_thread_by_default(worker_settings: Settings) -> None:
    assert libraries_in_worker(worker_settings) == {"cv2": 1, "threads": 1}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to see more threads")
def test_ocr_threads_0_leaves_the_libraries_their_defaults(worker_settings: Settings) -> None:
    found = libraries_in_worker(worker_settings, METER_INTAKE_OCR_THREADS="0")
    assert found["cv2"] > 1
    assert found["threads"] > 1


TRAIN_CHILD = """
import json, os
from app.cli import main
main(["train", "--status"])
import cv2, numpy
numpy.ones((600, 600)) @ numpy.ones((600, 600))
print(json.dumps({"cv2": cv2.getNumThreads(), "threads": len(os.listdir("/proc/self/task"))}))
"""


def test_train_runs_its_ocr_on_ocr_threads_as_a_worker_does(worker_settings: Settings) -> None:
    environment = child_env(worker_settings)
    for name in THREAD_VARIABLES:
        environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_CHILD], env=environment, cwd=REPO, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"cv2": 1, "threads": 1}
