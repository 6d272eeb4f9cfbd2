# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint sandbox migrate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: migrate the database, then run the bot (Telegram with TELEGRAM_BOT_TOKEN, else the sandbox)
run: $(STAMP) migrate
	$(BIN)/bumpbuddies run

## test: the whole suite (set DATABASE_URL=postgresql+asyncpg://... to run it on PostgreSQL)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot models tests bench

migrate: $(STAMP)
	$(BIN)/bumpbuddies db upgrade

sandbox: $(STAMP) migrate
	$(BIN)/bumpbuddies sandbox

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
