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
#   AIRFLOW_HOST      address the api-server binds     (default: 127.0.0.1, this machine only;
#                     0.0.0.0 exposes the UI, with its generated admin password, to the network)
#   AIRFLOW__CORE__PARALLELISM  LocalExecutor workers  (default: 8)
#   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN  metadata DB  (default: SQLite in AIRFLOW_HOME)
#   AIRFLOW_CONN_SMTP_DEFAULT  the failure email's connection (default: built from the [alerts]
#                     settings of BANWATCH_CONFIG, login from BANWATCH_SMTP_USER / _PASSWORD)
#
# Ctrl-C (or SIGTERM) stops the whole Airflow process group: standalone, scheduler, executor
# workers, dag-processor, triggerer and api-server; SIGKILL after 15 s if something hangs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"  # the tasks run from the repository (the config's relative paths follow the config file)
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
export AIRFLOW__API__HOST="${AIRFLOW_HOST:-127.0.0.1}"
# LocalExecutor starts this many worker processes up front; a pass needs only a few at once.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-8}"
export AIRFLOW__API__BASE_URL="http://localhost:$PORT"
export BANWATCH_CONFIG="${BANWATCH_CONFIG:-$ROOT/config/banwatch.toml}"

echo "banwatch: AIRFLOW_HOME=$AIRFLOW_HOME, DAGs from $AIRFLOW__CORE__DAGS_FOLDER, config $BANWATCH_CONFIG"
# standalone migrates too, but the pool needs the tables first.
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
airflow pools set banwatch_duckdb 1 "DuckDB has one writer: tasks that open the warehouse file" > /dev/null

# The DAGs' failure email goes through the `smtp_default` connection: build it from banwatch's
# own alert settings, as an environment connection (never on a command line or in the output;
# Airflow reads AIRFLOW_CONN_* before its metadata DB). A bad config stops here, clearly.
if [[ -z "${AIRFLOW_CONN_SMTP_DEFAULT:-}" ]]; then
  AIRFLOW_CONN_SMTP_DEFAULT="$(python -m banwatch.airflow_smtp "$BANWATCH_CONFIG")"
  export AIRFLOW_CONN_SMTP_DEFAULT
else
  echo "banwatch: smtp_default from AIRFLOW_CONN_SMTP_DEFAULT (set by you)"
fi

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

# standalone runs in a process group of its own (set -m), and every way out of this script stops
# that whole group: Ctrl-C alone used to leave the scheduler and its workers running.
AIRFLOW_PID=""
stop_airflow() {
  kill "$ANNOUNCER" 2> /dev/null || true
  [[ -n "$AIRFLOW_PID" ]] || return 0
  local sig
  for sig in INT TERM KILL; do
    kill -s "$sig" -- "-$AIRFLOW_PID" 2> /dev/null || break
    for _ in $(seq 1 30); do
      kill -0 -- "-$AIRFLOW_PID" 2> /dev/null || break 2
      sleep 0.5
    done
    echo "banwatch: Airflow still running after SIG$sig" >&2
  done
  wait "$AIRFLOW_PID" 2> /dev/null || true
  AIRFLOW_PID=""
}
trap 'echo "banwatch: stopping Airflow..."; stop_airflow; exit 130' INT
trap 'stop_airflow; exit 143' TERM
trap 'stop_airflow' EXIT

set -m
airflow standalone &
AIRFLOW_PID=$!
set +m
wait "$AIRFLOW_PID"
