"""What the extraction workers' forkserver loads before it forks them (`ingest.extract_pool`).

Importing this module loads the extraction and detection code and py3langid's model (~75 MB
of RSS, 0.5 s) once, in the forkserver; each worker forked from it then shares those pages
copy-on-write instead of loading its own copy. `gc.freeze()` moves what is loaded so far out of
the collector's sight, so the workers' collections do not write to (and so copy) those pages.
Only the forkserver imports this module.
"""

from __future__ import annotations

import gc

import banwatch.enrich.detect  # noqa: F401 - the workers find detection candidates too
from banwatch.ingest.extract import _identifier

_identifier()
gc.freeze()
