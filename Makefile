# landkit — the two commands a newcomer needs: `make demo` and `make test`.
# Every pip call goes through constraints.txt (PIP_CONSTRAINT), which pins the CPU build of torch.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# torch threads for the demo, the lab and the app: landkit's models are small, and on a busy 2-core laptop
# two threads per kernel thrash (the tour's taxonomy cell: 71 s with 2, 5 s with 1). `make lab THREADS=4`
THREADS ?= 1

.PHONY: demo test lint format lab app bench data install install-test clean student wheelhouse site

$(PY):
	$(PYTHON) -m venv $(VENV)

# Idempotent installs: redone only when pyproject.toml or the constraints change.
$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) install -q -e ".[test]"
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	OMP_NUM_THREADS=$(THREADS) $(VENV)/bin/landkit tour --out report/ --threads $(THREADS)
	@echo "Report written to $(CURDIR)/report/index.html"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-app: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) install -q -e ".[app]"
	@touch $@

# the tour as a web app on 127.0.0.1 (no code cells shown); the landkit template keeps it offline
app: $(VENV)/.installed-app
	OMP_NUM_THREADS=$(THREADS) JUPYTER_PATH=$(CURDIR)/app $(VENV)/bin/voila notebooks/00_tour.ipynb --template=landkit \
		--Voila.ip=127.0.0.1 --port=8866 --no-browser $(APP_PAINT) $(APP_CULL)

# the page paints each cell as soon as it has run (title in 2 s instead of 14-16 s for the whole tour)
APP_PAINT = --VoilaConfiguration.progressive_rendering=True

# every page view starts a kernel (~470 MB running the tour): at most 8 alive at once (a ninth visitor
# gets HTTP 503, "busy"), and kernels idle for 10 minutes with no browser connected are shut down,
# checked every minute (tests/test_app_server.py runs these flags, scaled down)
APP_CULL = --VoilaConfiguration.multi_kernel_manager_class=landkit.widgets.voila.CappedKernelManager \
	--CappedKernelManager.max_kernels=8 \
	--MappingKernelManager.cull_idle_timeout=600 --MappingKernelManager.cull_interval=60 \
	--MappingKernelManager.cull_connected=False

data: $(VENV)/.installed
	$(PY) data/make_data.py

# every wheel landkit needs (the CPU build of torch included, about 360 MB) in wheelhouse/, for a USB stick;
# then, with the network off:  python3 -m venv env && env/bin/pip install --no-index --find-links wheelhouse landkit
wheelhouse: $(VENV)/.installed
	$(PIP) wheel -q . -w wheelhouse
	@echo "wheelhouse/: $$(ls wheelhouse | wc -l) wheels, $$(du -sh wheelhouse | cut -f1)"

$(VENV)/.installed-site: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) install -q -e ".[site]"
	@touch $@

# every notebook executed (full mode; `make site FAST=1` for a quick one) as a static website in site/
# that opens from disk with no network: site/index.html
site: $(VENV)/.installed-site
	OMP_NUM_THREADS=$(THREADS) $(VENV)/bin/landkit site notebooks/ site/ $(if $(FAST),--fast,)

# the student copies of the lesson notebooks: each exercise's solution replaced by a stub (its check stays)
student: $(VENV)/.installed
	$(VENV)/bin/landkit student notebooks/ notebooks/student/

lab: $(VENV)/.installed
	OMP_NUM_THREADS=$(THREADS) $(VENV)/bin/jupyter lab --ip=127.0.0.1 notebooks/ \
		--ContentsManager.pre_save_hook=landkit.widgets.save_hook.strip_widget_outputs

$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) install -q -e ".[bench]"
	@touch $@

# landscaper 1.3.1 pins numpy 1.26 and networkx 2.8: it gets an environment of its own, used only by
# benchmarks/landscape_families.py (each measurement is a fresh process in its tool's environment)
.venv-landscaper/.installed: PIP = PIP_CONSTRAINT=$(CURDIR)/constraints.txt .venv-landscaper/bin/python -m pip
.venv-landscaper/.installed: constraints.txt
	$(PYTHON) -m venv .venv-landscaper
	$(PIP) install -q torch==2.13.0 landscaper==1.3.1
	@touch $@

bench: $(VENV)/.installed-bench .venv-landscaper/.installed
	$(PY) benchmarks/capture_overhead.py
	$(PY) benchmarks/koopman_scale.py
	$(PY) benchmarks/koopman_dmd.py
	$(PY) benchmarks/landscape.py
	$(PY) benchmarks/landscape_families.py --landscaper-python .venv-landscaper/bin/python
	$(PY) benchmarks/grid_backend.py
	$(PY) benchmarks/hessian.py
	$(PY) benchmarks/hessian_peers.py
	$(PY) benchmarks/lanczos_memory.py
	$(PY) benchmarks/pca_plane_memory.py
	$(PY) benchmarks/global.py
	$(PY) benchmarks/glassy.py
	$(PY) benchmarks/taxonomy.py
	$(PY) benchmarks/threads.py

clean:
	rm -rf $(VENV) .venv-landscaper report .pytest_cache .ruff_cache
