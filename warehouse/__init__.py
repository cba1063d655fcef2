"""banwatch warehouse stage: one DuckDB file, idempotent loads, a read-only snapshot for analysts.

`connect`, `open_reader` and `publish_snapshot` are imported lazily, so importing the package
(e.g. at DAG parse time) does not import DuckDB.
"""

from __future__ import annotations

from typing import Any

__all__ = ["connect", "open_reader", "publish_snapshot"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from banwatch.warehouse import store

        return getattr(store, name)
    raise AttributeError(f"module 'warehouse' has no attribute {name!r}")
