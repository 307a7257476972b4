# Everything a newcomer or CI needs; each target sets up the virtualenv first if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lock run chat test lint check bench clean

# The exact versions (with their hashes) come from requirements.lock, which `make lock` makes
# from pyproject.toml; the project itself is then installed without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## the lock files after a change of pyproject.toml; `make lock LOCK_ARGS=--upgrade` for the
## newest versions pyproject.toml allows (then run the whole suite). See docs/DEPLOY.md.
LOCK_ARGS ?=
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 $(LOCK_ARGS)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra scale --extra extras \
		$(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra scale -c requirements.lock \
		$(LOCK_FLAGS) -o requirements-deploy.lock

## the bot: polling Telegram with BOT_TOKEN set; without it, the terminal chat
run: $(STAMP)
	$(BIN)/urapolku run

chat: $(STAMP)
	$(BIN)/urapolku chat

## the whole suite in 4 processes (most tests wait on subprocesses and sockets, not the CPU)
test: $(STAMP)
	$(BIN)/pytest -n 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/urapolku check

bench: $(STAMP)
	$(BIN)/python bench/throughput.py --people 50 --turns 15 --rounds 3

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
