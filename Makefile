# Everything a newcomer or CI needs; each target sets up the virtualenv first if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run chat test lint check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,scale,extras]"
	touch $(STAMP)

install: $(STAMP)

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
