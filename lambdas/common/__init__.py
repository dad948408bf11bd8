"""Plumbing shared by every Lambda: URIs, transfers, callbacks, logging, FFmpeg and probing."""
