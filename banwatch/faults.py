"""Test hook: kill the process at a named point, to prove a killed pass loses nothing.

`checkpoint(name)` does nothing unless the environment variable `BANWATCH_KILL_AT` equals
`name`; then the process sends itself SIGKILL (no cleanup, no exception handlers, no atexit),
which is what a killed Airflow worker or an OOM kill does. Only tests set the variable
(tests/test_crash.py); it is never meant for production use.

Points, in the order a pass reaches them:
- `staged:state`, `staged:poll`, `staged:articles`, `staged:stories`, `staged:detections`: right
  after a step wrote its staging file (`banwatch.pipeline._dump`), i.e. after polling, fetch,
  embedding and detection;
- `load:feeds`, `load:articles`, `load:embeddings`, `load:stories`, `load:detections`,
  `load:events` (inside the load's one transaction) and `load:committed` (after its commit);
- `alerts:accepted`: the SMTP server accepted an alert, its row is not `sent` yet
  (`warehouse.outbox`): the documented at-least-once window;
- `snapshot:copied`: the pass's last step, publishing: the snapshot copy is complete, not yet
  renamed over the snapshot (`warehouse.snapshot.publish`).
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

ENV_KILL_AT = "BANWATCH_KILL_AT"


def checkpoint(name: str) -> None:
    """SIGKILL this process if `BANWATCH_KILL_AT` names this point (a test hook; else a no-op)."""
    if os.environ.get(ENV_KILL_AT) == name:
        logger.warning("%s=%s: killing process %d", ENV_KILL_AT, name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
