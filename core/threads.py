"""How many threads one process's OCR may use: OpenCV's pool, Tesseract's OpenMP, BLAS.

Left alone, each library starts a thread per core in every process, so each of N worker
processes on N cores runs N threads per library, and they take turns on the cores: a worker reads
one photo at a time, and throughput comes from more worker processes, not from threads within
one. Each library reads its variable once, when it is loaded (OpenCV and BLAS with the OCR's
first import, Tesseract's OpenMP with the first plate read), so `limit_threads` belongs at the
start of a worker process; an OpenCV loaded before is set directly.
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = (
    "OPENCV_FOR_THREADS_NUM",
    "OMP_THREAD_LIMIT",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def limit_threads(count: int) -> None:
    """At most `count` threads for each library; 0 leaves them their defaults."""
    if count <= 0:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(count)
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.setNumThreads(count)
