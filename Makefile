# Quorum: `make demo` to try it, `make test` to check it. Needs only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_MEMBERS ?= 3000
# Where CI (or you) keep PostgreSQL and Redis for the second run of the suite.
PG_URL ?= postgres://postgres@127.0.0.1:5432/quorum
REDIS_URL ?= redis://127.0.0.1:6379/14
# pytest-xdist processes per run of the suite (each has its own test database and Celery queues).
TEST_WORKERS ?= 2

.PHONY: install demo test test-sqlite test-services lint bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --members $(DEMO_MEMBERS) --flush
	@echo "Serving on http://localhost:8000/ (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Locally: lint and the whole suite on SQLite with eager Celery (tests needing PostgreSQL and a
# worker skip, saying why). Under CI=true: the suite on SQLite, then again on PostgreSQL with a real
# Celery worker on Redis, where those tests must run.
test: lint
ifeq ($(CI),true)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not services"
	$(MAKE) test-services
else
	$(BIN)/python -m pytest -n $(TEST_WORKERS)
endif

test-services: install
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) QUORUM_REQUIRE_SERVICES=true $(BIN)/python -m pytest -n $(TEST_WORKERS)

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
