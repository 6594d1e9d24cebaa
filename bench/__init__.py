"""Benchmark scripts (run as files: `.venv/bin/python bench/ocr.py`); a package so that the
others share bench/ocr.py's corpus, task and worker helpers."""
