# The README's two commands are `make demo` and `make test`; both install first.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test clean-venv

install:
	bash scripts/install.sh

demo: install
	$(PY) tools/demo/run_demo.py --work-dir work_dirs/demo

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

clean-venv:
	rm -rf .venv
