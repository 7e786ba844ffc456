# Kallimachos — the two commands: `make demo` (embedded default) and `make test` (everything).
.PHONY: demo test install lint types unit schema services-up services-down bench bench-small

demo: install ## init + load the sample consortium + serve on http://127.0.0.1:8000/graphql
	.venv/bin/kallimachos demo

test: ## install, start PostgreSQL + OpenSearch, lint, type-check, run the whole suite
	scripts/test.sh

install:
	scripts/bootstrap.sh

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

types: install
	.venv/bin/mypy

unit: install ## fast tests without the real services
	KALLIMACHOS_SKIP_SERVICES=1 .venv/bin/pytest -m "not integration"

schema: install ## regenerate the committed schema.graphql from the code
	.venv/bin/python -c "from kallimachos.schema import schema; print(schema.as_str())" > schema.graphql

bench: install ## every benchmark scenario on 200,000 works (6-7 min on 2 cores, under the 15 min budget); see docs/performance.md
	.venv/bin/python -m bench.run

bench-small: install ## the same on 20,000 works (about 3 min)
	.venv/bin/python -m bench.run --small

services-up: install
	scripts/postgres.sh start && scripts/opensearch.sh start

services-down:
	scripts/opensearch.sh stop; scripts/postgres.sh stop
