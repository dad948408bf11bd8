"""Vertex OAuth access tokens from Application Default Credentials (google-auth), cached until
near expiry and shared by every client of the process."""

from __future__ import annotations

import os
import threading

import google.auth
import google.auth.exceptions
import google.auth.transport.requests

from video_dagster.resources.providers.base import ProviderError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_CACHE: dict[str, AdcToken] = {}
_CACHE_LOCK = threading.Lock()


class AdcToken:
    """A callable returning a valid access token; refreshes only when google-auth says the
    token is missing or within its refresh margin (minutes) of expiry."""

    def __init__(self) -> None:
        try:
            self.credentials, project = google.auth.default(scopes=list(SCOPES))
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise ProviderError("vertex", "missing_credentials",
                                "Vertex needs VERTEX_ACCESS_TOKEN or Application Default "
                                f"Credentials (GOOGLE_APPLICATION_CREDENTIALS): {exc}") from None
        self.project = project or ""
        self._lock = threading.Lock()
        self._request = google.auth.transport.requests.Request()

    def __call__(self) -> str:
        """The current token (refreshed first when stale)."""
        with self._lock:
            if not self.credentials.valid:
                try:
                    self.credentials.refresh(self._request)  # type: ignore[no-untyped-call]
                except google.auth.exceptions.RefreshError as exc:
                    # The message is the token endpoint's error, never the token itself.
                    reason = exc.args[0] if exc.args else type(exc).__name__
                    raise ProviderError("vertex", "auth_failed",
                                        f"Application Default Credentials refused: {reason}",
                                        retryable=bool(getattr(exc, "retryable", False))) from None
            return str(self.credentials.token)


def adc_token() -> AdcToken:
    """This process's ADC token source for the current GOOGLE_APPLICATION_CREDENTIALS."""
    where = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or ""
    with _CACHE_LOCK:
        if where not in _CACHE:
            _CACHE[where] = AdcToken()
        return _CACHE[where]
