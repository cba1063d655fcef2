#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (scheduler, dag-processor, triggerer, api-server; LocalExecutor)
# running banwatch's DAGs from ./dags, with its home in ./airflow_home (gitignored), a SQLite metadata
# DB and the one-slot banwatch_duckdb pool. For development; docker-compose.yml is for production.
#
# Environment (all optional):
#   BANWATCH_CONFIG   banwatch settings file          (default: config/banwatch.toml)
#   BANWATCH_SCHEDULE the pipeline DAG's schedule      (default: */15 * * * *)
#   AIRFLOW_HOME      Airflow's home                   (default: ./airflow_home)
#   AIRFLOW_PORT      UI / API port                    (default: 8080)
#   AIRFLOW__CORE__PARALLELISM  LocalExecutor workers  (default: 8)
#   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN  metadata DB  (default: SQLite in AIRFLOW_HOME)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"  # the config's relative paths (data/...) resolve from the repository in every task
if [[ -x "$ROOT/.venv/bin/airflow" ]]; then
  export PATH="$ROOT/.venv/bin:$PATH"
fi

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow_home}"
mkdir -p "$AIRFLOW_HOME"
AIRFLOW_HOME="$(cd "$AIRFLOW_HOME" && pwd)"
PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT="$PORT"
# LocalExecutor starts this many worker processes up front; a pass needs only a few at once.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-8}"
export AIRFLOW__API__BASE_URL="http://localhost:$PORT"
export BANWATCH_CONFIG="${BANWATCH_CONFIG:-$ROOT/config/banwatch.toml}"

echo "banwatch: AIRFLOW_HOME=$AIRFLOW_HOME, DAGs from $AIRFLOW__CORE__DAGS_FOLDER, config $BANWATCH_CONFIG"
# standalone migrates too, but the pool needs the tables first.
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
airflow pools set banwatch_duckdb 1 "DuckDB has one writer: tasks that open the warehouse file" > /dev/null

# Airflow 3's simple auth manager generates the admin password into this file on first start.
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
announce() {
  for _ in $(seq 1 300); do
    if [[ -s "$PASSWORDS" ]] && (: < "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null; then
      echo "banwatch: ==================================================================="
      echo "banwatch: Airflow UI: http://localhost:$PORT"
      echo "banwatch: login: admin, password: $(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$PASSWORDS") (from $PASSWORDS)"
      echo "banwatch: DAGs start paused: unpause banwatch_pipeline in the UI to start the schedule."
      echo "banwatch: Ctrl-C stops everything."
      echo "banwatch: ==================================================================="
      return
    fi
    sleep 1
  done
  echo "banwatch: the api-server did not answer on port $PORT within 5 minutes" >&2
}
announce &
ANNOUNCER=$!
trap 'kill "$ANNOUNCER" 2> /dev/null || true' EXIT

airflow standalone
