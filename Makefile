# handkit: the commands README.md documents.
#
#   make run         set up .venv, run every notebook headless into runs/<timestamp>/, print key numbers
#   make test        set up .venv, run the whole test suite (unit tests, doctests, notebooks)
#   make lab         set up .venv, open JupyterLab on working copies in my-notebooks/ (notebooks/
#                    stays as committed) with the "Python (handkit)" kernel
#   make lab TRACK=student   the same on the student edition (exercises to do) in
#                    my-notebooks-student/ (TRACK=instructor: the instructor edition)
#   make lab-reset   fresh working copies: all, or NOTEBOOK="01_mano_basics 02_sparse_videos"
#   make notebooks   set up .venv, re-execute the committed notebooks in place at their defaults
#   make wheel       set up .venv, build dist/handkit-<version>-py3-none-any.whl: the kit with the
#                    course inside, to install anywhere (docs/installed-kit.md)
#   make site        set up .venv, build the course website into site/ from docs/ and the
#                    committed notebooks (never executed, nothing fetched); open site/index.html
#
# Set-up creates .venv with $(PYTHON) when it does not exist, then installs handkit with
# `pip install -e .[dev]` and registers the Jupyter kernel "handkit"; it skips both while
# pyproject.toml is unchanged (its hash is kept in $(STAMP)).
# Overrides: PYTHON (interpreter that creates .venv; delete .venv to switch), VENV (its location),
# OMP_NUM_THREADS (threads per process for run/notebooks, default 2; for test, default 1),
# TEST_WORKERS (test processes, default 2; 0 runs the suite in this process), LAB_ARGS (more
# options for JupyterLab, e.g. LAB_ARGS="--no-browser --port 8899", or --allow-root in a container).

PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.handkit-setup-stamp
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/handkit/kernel.json
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
LAB_ARGS ?=
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

NOTEBOOK ?=
# make lab TRACK=student|instructor: working copies of that edition (built into build/course/).
TRACK ?=
COPIES := $(if $(TRACK),my-notebooks-$(TRACK),my-notebooks)
LAB_SOURCE := $(if $(TRACK),build/course/$(TRACK),notebooks)

.PHONY: run test lab lab-reset notebooks site setup course-edition

run test notebooks: export OMP_NUM_THREADS ?= 2
# The suite runs in TEST_WORKERS processes (pytest-xdist), each test file whole in one of them:
# one process left a core idle whenever a test waited on a kernel, a subprocess or the browser.
# Threads stay 2 per process, as the notebooks' committed outputs were made.
TEST_WORKERS ?= 2
# Idle OpenMP threads sleep instead of spinning: with spinning, training steps ran ~20x slower
# whenever another process (a browser drawing figures, a second job) wanted the same cores.
run test notebooks lab: export OMP_WAIT_POLICY ?= PASSIVE

run: setup
	$(VENV_PYTHON) -m handkit run

# Lint (ruff; settings in pyproject.toml), then unit tests and doctests (tests/, handkit/), and
# each notebook run twice: nbval at its defaults over the committed notebooks (outputs compared),
# and the browser test at its alternate parameters (tests/test_browser.py, ALT_PARAMETERS in
# tests/notebook_parameters.py: JupyterLab in headless Chromium; where /usr/bin/chromium is
# missing it is skipped, with the reason printed, and papermill runs those parameters instead).
# A module that fails to import is reported as an error without hiding the other tests' results;
# -rs lists why tests were skipped; --durations=25 lists the 25 slowest tests (set-up and
# teardown counted apart), so a CI log shows where the time goes.
test: setup
	$(VENV)/bin/ruff check .
	$(VENV_PYTHON) -m pytest -rs --durations=25 --continue-on-collection-errors \
		-n $(TEST_WORKERS) --dist loadfile handkit tests $(NBVAL) $(NOTEBOOKS)

# Working copies in my-notebooks/ (python -m handkit lab: made from notebooks/ the first time).
lab: setup course-edition
	$(VENV_PYTHON) -m handkit lab --source $(LAB_SOURCE) --dir $(COPIES) -- $(LAB_ARGS)

lab-reset: setup course-edition
	$(VENV_PYTHON) -m handkit lab --source $(LAB_SOURCE) --dir $(COPIES) --no-launch \
		--reset $(NOTEBOOK)

# The student and instructor editions (python -m handkit course build), when a TRACK is chosen.
course-edition:
	@case "$(TRACK)" in \
		"") ;; \
		student|instructor) $(VENV_PYTHON) -m handkit course build --out build/course --force ;; \
		*) echo "make: TRACK must be student or instructor (or unset); got '$(TRACK)'" >&2; \
			exit 1 ;; \
	esac

# In place, in the handkit kernel, with no per-cell timestamps or widget state: executing again
# changes only what the code changed (handkit.course.run.execute_in_place).
notebooks: setup
	$(VENV_PYTHON) -m handkit run --in-place

# The course website (docs/conf.py: Sphinx, myst-nb, sphinx-book-theme): the committed notebooks
# with their saved outputs (plotly figures drawn by the plotly.min.js shipped in site/_static/),
# docs/*.md and the notation page. -W: a warning fails the build, as does a page that would load
# anything from another host (docs/_ext/offline_check.py). -E: read every source again.
site: setup
	rm -rf site
	$(VENV)/bin/sphinx-build -b html -c docs -d build/site-doctrees -E -W --keep-going -q . site
	@echo "make: the course website is in site/ (open site/index.html, or serve it:" \
		"$(VENV_PYTHON) -m http.server -d site)"

setup:
	@if [ ! -x "$(VENV_PYTHON)" ]; then \
		$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
			echo "make: handkit needs Python 3.10 or newer; set PYTHON=<python3.10+> (PYTHON is '$(PYTHON)')" >&2; \
			exit 1; }; \
		echo "make: creating $(VENV) with $(PYTHON)"; \
		$(PYTHON) -m venv "$(VENV)" || { \
			echo "make: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt install python3-venv);" \
				"delete $(VENV) before trying again" >&2; \
			exit 1; }; \
	fi
	@hash=$$("$(VENV_PYTHON)" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())') && \
	if [ "$$(cat "$(STAMP)" 2>/dev/null)" = "$$hash" ] && [ -f "$(KERNEL_SPEC)" ]; then \
		echo "make: $(VENV) is up to date with pyproject.toml"; \
	else \
		echo "make: installing handkit and its dependencies into $(VENV) (the first time takes minutes)" && \
		"$(VENV_PYTHON)" -m pip install -e ".[dev]" && \
		"$(VENV_PYTHON)" -m ipykernel install --sys-prefix --name handkit --display-name "Python (handkit)" \
			--env OMP_WAIT_POLICY PASSIVE && \
		echo "$$hash" > "$(STAMP)"; \
	fi

# The installable kit: the package with the notebooks, sample data, shipped checkpoint and
# committed results inside (pyproject.toml's [tool.setuptools]; about 35 MB). Built offline by the
# setuptools installed in .venv (torch requires it); stale build/ output is removed first, since
# setuptools would pack files left there by an earlier build.
.PHONY: wheel
wheel: setup
	rm -rf build/lib build/bdist.* dist/handkit-*.whl
	$(VENV_PYTHON) -m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir dist .
	@ls -l dist/handkit-*.whl
