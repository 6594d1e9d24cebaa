# The two commands of the README: `make run` and `make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test lint typecheck pytest bench demo serve worker clean

run: setup
	$(BIN)/meter-intake demo --serve

test: setup-test lint typecheck pytest

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy .

pytest:
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/ocr.py
	$(BIN)/python bench/intake.py

clean:
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
