"""banwatch: watch the news for governments banning or restricting apps."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
