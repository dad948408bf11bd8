"""A local Lambda runner that stays alive past the test's deadline, never calling back."""

import time

time.sleep(8)
