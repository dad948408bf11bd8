"""A local Lambda runner that dies without ever calling back (tests the deadline path)."""

import os

os._exit(137)
