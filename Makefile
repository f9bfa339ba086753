# Two commands do everything: `make lab` (set up, then open the course) and `make test` (set up, then test it all).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORKERS ?= 2
# Off by default. On a CPU-only Linux machine, TORCH_INDEX=https://download.pytorch.org/whl/cpu installs PyTorch's CPU
# wheels instead of the registry's CUDA build (see the README: a fraction of the download and the disk).
TORCH_INDEX ?=
# Quick mode, the bundled digits and one BLAS thread per worker: what CI runs, on 2 cores, offline.
TEST_ENV := PYTHONPATH=$(CURDIR) COURSE_QUICK=1 COURSE_DATA=bundled COURSE_CACHE=$(CURDIR)/build/test-cache \
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg PYTHONHASHSEED=0

.PHONY: help setup lab test unit torch-range slides site student instructor warmup strip clean

help:
	@echo "make lab    - set up .venv if needed and open the course in JupyterLab"
	@echo "make test   - set up .venv if needed and run every test (unit tests, notebooks, hygiene)"
	@echo "make unit   - only the unit tests (fast: no notebook runs, no browser)"
	@echo "make torch-range - the unit tests and notebooks with the oldest and the newest supported PyTorch (nox, .nox/)"
	@echo "make slides - execute the notebooks (quick mode) and write offline reveal.js decks to build/slides/"
	@echo "make site   - execute the student edition (quick mode) and write the course website to build/site/ (works"
	@echo "              offline); SITE_ARGS=\"--full\", \"--executed DIR\" or \"--edition instructor\" to change that"
	@echo "make student    - write build/student/: the notebooks with every solution replaced by a stub (hand these out)"
	@echo "make instructor - write build/instructor/: the notebooks with solutions and speaker notes (present from these)"
	@echo "make warmup - train and cache every model the notebooks load, so live demos take seconds"
	@echo "make strip  - remove outputs from the notebooks before committing"
	@echo "make clean  - delete build outputs and caches (keeps .venv)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "This course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		  echo "Run again with PYTHON=/path/to/python3.11 make ..."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e ".[test,editions,site]"
	@# nbgrader is here only for its ClearSolutions preprocessor (make student): keep its grading UI out of the lab
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader > /dev/null 2>&1
	$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.formgrader \
		nbgrader.server_extensions.validate_assignment nbgrader.server_extensions.assignment_list \
		nbgrader.server_extensions.course_list > /dev/null 2>&1
	@touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder --durations=25 \
		-p no:cacheprovider

unit: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder tests \
		--ignore=tests/browser \
		--deselect tests/test_notebooks.py::TestInstructorEdition --deselect tests/test_notebooks.py::TestStudentEdition \
		-p no:cacheprovider

torch-range: $(STAMP)
	$(BIN)/nox

slides: $(STAMP)
	COURSE_QUICK=1 PYTHONPATH=$(CURDIR) $(BIN)/python tools/build_slides.py --out build/slides
	@echo "Open build/slides/index.html in a browser (works offline)."

site: $(STAMP)
	PYTHONPATH=$(CURDIR) $(BIN)/python tools/build_site.py --out build/site $(SITE_ARGS)

student: $(STAMP)
	$(BIN)/python tools/build_editions.py student

instructor: $(STAMP)
	$(BIN)/python tools/build_editions.py instructor

warmup: $(STAMP)
	$(BIN)/python -m course_utils.warmup

strip: $(STAMP)
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

clean:
	rm -rf build .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
