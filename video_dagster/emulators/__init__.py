"""Loopback emulators of the provider APIs: same contracts, real media, injectable faults."""
