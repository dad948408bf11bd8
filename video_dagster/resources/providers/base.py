"""The HTTP base every provider client shares: auth, timeouts, retries, typed errors, downloads."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Statuses that mean "rejected before any work started": safe to resend even a billable submit.
REJECTED_STATUS = frozenset({429, 503})


class ProviderError(Exception):
    """A provider call that failed: the provider's own code and message, never a secret."""

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool = False,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {message} ({code})")
        self.provider = provider
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; `Retry-After` wins when the provider sends one."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before attempt number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        raw = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        return float(raw * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class PollPolicy:
    """How an asynchronous job is polled: first delay, its cap, and the overall deadline (s)."""

    interval: float = 1.0
    max_interval: float = 30.0
    timeout: float = 1800.0

    def next(self, current: float) -> float:
        """The delay after `current`: grows by half, capped."""
        return min(current * 1.5, self.max_interval)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (both the delta and the HTTP-date forms), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


ErrorParser = Callable[[httpx.Response], tuple[str, str]]


def _default_parser(response: httpx.Response) -> tuple[str, str]:
    return f"http_{response.status_code}", response.text[:500] or response.reason_phrase


@dataclass
class ProviderHTTP:
    """One provider's HTTP client: base URL, auth headers, timeouts, retries (injectable client)."""

    provider: str
    base_url: str
    auth_headers: Mapping[str, str]
    client: httpx.Client
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    parse_error: ErrorParser = _default_parser
    # Decides whether an error response may be retried (provider-specific codes).
    retryable: Callable[[httpx.Response, str], bool] = (
        lambda response, _code: response.status_code in RETRYABLE_STATUS
    )
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def create(cls, provider: str, base_url: str, auth_headers: Mapping[str, str], *,
               timeout: float = 60.0, connect_timeout: float = 10.0,
               transport: httpx.BaseTransport | None = None, **kwargs: Any) -> ProviderHTTP:
        """A client with its own connection pool (or the injected transport)."""
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout), transport=transport,
        )
        return cls(provider, base_url.rstrip("/"), dict(auth_headers), client, **kwargs)

    def scrub(self, text: str) -> str:
        """`text` with every credential value replaced (providers sometimes echo them)."""
        for secret in self.auth_headers.values():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def error(self, response: httpx.Response) -> ProviderError:
        """The typed error for an error response."""
        try:
            response.read()
            code, message = self.parse_error(response)
        except Exception:  # an unparseable body still gives a clear error
            code, message = f"http_{response.status_code}", response.reason_phrase
        return ProviderError(
            self.provider, code, self.scrub(message), status=response.status_code,
            retryable=self.retryable(response, code), retry_after=retry_after_seconds(response),
        )

    def request(self, method: str, path: str, *, billable: bool = False,
                idempotency_key: str | None = None, stream: bool = False,
                **kwargs: Any) -> httpx.Response:
        """Send with retries; a billable call without an idempotency key is only resent when the
        provider clearly rejected it (429/503) or the connection never opened. With `stream` the
        successful response is returned unread: the caller iterates and closes it."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        headers = {**self.auth_headers, **kwargs.pop("headers", {})}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        safe = not billable or idempotency_key is not None
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                req = self.client.build_request(method, url, headers=headers, **kwargs)
                response = self.client.send(req, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise ProviderError(self.provider, "connect_error",
                                        f"cannot reach {self.base_url}: {exc}",
                                        retryable=True) from None
                self._pause(attempt, None, f"connect error {type(exc).__name__}")
                continue
            except httpx.TransportError as exc:
                # The request may have reached the provider: resending a billable call could
                # pay twice, so only resend what is safe.
                if not safe:
                    raise ProviderError(
                        self.provider, "outcome_unknown",
                        f"{method} {path} failed after sending ({type(exc).__name__}); not "
                        "resent because it may have been billed", retryable=False,
                    ) from None
                if last:
                    raise ProviderError(self.provider, "transport_error",
                                        f"{method} {path}: {type(exc).__name__}: {exc}",
                                        retryable=True) from None
                self._pause(attempt, None, type(exc).__name__)
                continue
            if response.status_code < 400:
                return response
            err = self.error(response)
            response.close()
            resend = err.retryable and (safe or response.status_code in REJECTED_STATUS)
            if not resend or last:
                raise err
            self._pause(attempt, err.retry_after, f"{err.status} {err.code}")
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` and decode a JSON body (a clear error when it is not JSON)."""
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ProviderError(self.provider, "bad_response",
                                f"{method} {path} returned non-JSON") from None

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.info("%s: %s; retry %d/%d in %.2fs", self.provider, why, attempt,
                 self.retry.attempts - 1, delay)
        self.sleep(delay)

    def download(self, url: str, dest: Path, *, refresh: Callable[[], str] | None = None,
                 with_auth: bool = False, chunk: int = 1 << 16) -> int:
        """Stream `url` into `dest` following redirects; on 403/404 (an expired link) ask
        `refresh` for a fresh URL. Returns the byte count."""
        refreshes = 0
        for attempt in range(1, self.retry.attempts + 1):
            headers = dict(self.auth_headers) if with_auth else {}
            try:
                with self.client.stream("GET", url, headers=headers,
                                        follow_redirects=True) as response:
                    if response.status_code in (403, 404) and refresh and refreshes < 2:
                        refreshes += 1
                        log.info("%s: download link expired (%d); fetching a fresh one",
                                 self.provider, response.status_code)
                        url = refresh()
                        continue
                    if response.status_code >= 400:
                        err = self.error(response)
                        if not err.retryable or attempt == self.retry.attempts:
                            raise err
                        self._pause(attempt, err.retry_after, f"download {err.status}")
                        continue
                    size = 0
                    with dest.open("wb") as out:
                        for part in response.iter_bytes(chunk):
                            out.write(part)
                            size += len(part)
                    return size
            except httpx.TransportError as exc:
                if attempt == self.retry.attempts:
                    raise ProviderError(self.provider, "download_failed",
                                        f"download failed: {type(exc).__name__}",
                                        retryable=True) from None
                self._pause(attempt, None, f"download {type(exc).__name__}")
        raise ProviderError(self.provider, "download_failed", "download kept failing",
                            retryable=True)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
