"""The HTTP base every provider client shares: auth, timeouts, retries, typed errors, downloads."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import random
import re
import socket
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_JSON_BYTES = 128 << 20  # Vertex returns clips inline as base64: a few tens of MB at most
MAX_DOWNLOAD_BYTES = 2 << 30
MAX_ERROR_BYTES = 64 << 10
MAX_MESSAGE_CHARS = 500
MAX_REDIRECTS = 5
# Hosts a download link must never reach, whatever the provider says (cloud metadata services).
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
# A provider job id: opaque, but it goes into our URL paths and metadata.
_ID_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=-]{0,255}")
# Statuses that mean "rejected before any work started": safe to resend even a billable submit.
REJECTED_STATUS = frozenset({429, 503})


class ProviderError(Exception):
    """A provider call that failed: the provider's own code and message, never a secret."""

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool = False,
                 status: int | None = None, retry_after: float | None = None) -> None:
        message = message[:MAX_MESSAGE_CHARS]
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
        if retry_after is not None and math.isfinite(retry_after):
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
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None  # "nan" would crash time.sleep
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def safe_id(provider: str, value: Any, *, slashes: bool = False) -> str:
    """A provider job id checked before it goes into a URL path or metadata: short, plain
    characters, no `..` or empty segment (operation names have `/`-separated segments)."""
    parts = value.split("/") if isinstance(value, str) and slashes else [value]
    if not (isinstance(value, str) and len(value) <= 1024 and all(
            isinstance(p, str) and _ID_SEGMENT.fullmatch(p) for p in parts)):
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise ProviderError(provider, "bad_response", f"provider returned an unusable job id "
                            f"({shown})")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def decode_json(raw: bytes) -> Any:
    """Strict JSON: NaN/Infinity refused; deep nesting raises ValueError, not RecursionError."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


ErrorParser = Callable[[httpx.Response], tuple[str, str]]


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the forms resolvers accept ("2130706433",
    "0x7f.1", "::ffff:169.254.169.254"), or None for a name."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            host.strip("[]"))
    except ValueError:
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_internal(host: str) -> bool:
    ip = _host_ip(host)
    if ip is None:
        return host.lower() == "localhost" or host.lower().endswith(".localhost")
    return ip.is_loopback or ip.is_private


def _read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The streamed body, or None when it is longer than `limit` bytes."""
    body = bytearray()
    for part in response.iter_bytes():
        body += part
        if len(body) > limit:
            return None
    return bytes(body)


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
    # Credentials that change (an OAuth token refreshed near expiry): called per request.
    auth: Callable[[], Mapping[str, str]] | None = None
    _sent: dict[str, str] = field(default_factory=dict, repr=False)  # last `auth()` values

    @classmethod
    def create(cls, provider: str, base_url: str, auth_headers: Mapping[str, str], *,
               timeout: float = 60.0, connect_timeout: float = 10.0,
               transport: httpx.BaseTransport | None = None, **kwargs: Any) -> ProviderHTTP:
        """A client with its own connection pool (or the injected transport)."""
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout), transport=transport,
        )
        return cls(provider, base_url.rstrip("/"), dict(auth_headers), client, **kwargs)

    def headers(self) -> dict[str, str]:
        """The auth headers to send now."""
        if self.auth is not None:
            self._sent = dict(self.auth())
        return {**self.auth_headers, **self._sent}

    def scrub(self, text: str) -> str:
        """`text` with every credential value replaced (providers sometimes echo them)."""
        for value in [*self.auth_headers.values(), *self._sent.values()]:
            # "Bearer <token>": the provider may echo the token alone.
            for secret in (value, value.rsplit(" ", 1)[-1]):
                if secret and len(secret) >= 8:
                    text = text.replace(secret, "***")
        return text[:MAX_MESSAGE_CHARS]

    def error(self, response: httpx.Response) -> ProviderError:
        """The typed error for an error response."""
        try:
            # A copy holding at most MAX_ERROR_BYTES: an endless error body is not read whole.
            body = _read_capped(response, MAX_ERROR_BYTES) or b""
            code, message = self.parse_error(httpx.Response(
                response.status_code, content=body, request=response.request,
                headers={"content-type": response.headers.get("content-type", "")}))
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
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        safe = not billable or idempotency_key is not None
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                req = self.client.build_request(method, url, headers=headers, **kwargs)
                # Always streamed, so that an error body is read only up to MAX_ERROR_BYTES.
                response = self.client.send(req, stream=True)
                if response.status_code < 400 and not stream:
                    response.read()  # a cut-off body is a transport error like before
            except (httpx.InvalidURL, UnicodeError):
                # httpx parses a 3xx Location even when not following it.
                raise ProviderError(self.provider, "bad_response", f"{method} {path}: "
                                    "answered with a malformed redirect") from None
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
        """`request` and decode a JSON body: a clear error when it is not JSON, holds NaN or
        Infinity, nests too deeply or passes MAX_JSON_BYTES (never read whole)."""
        response = self.request(method, path, stream=True, **kwargs)
        try:
            raw = _read_capped(response, MAX_JSON_BYTES)
        except httpx.TransportError as exc:
            raise ProviderError(self.provider, "bad_response", f"{method} {path}: response "
                                f"cut off ({type(exc).__name__})", retryable=True) from None
        finally:
            response.close()
        if raw is None:
            raise ProviderError(self.provider, "bad_response",
                                f"{method} {path} returned over {MAX_JSON_BYTES >> 20} MB")
        try:
            return decode_json(raw)
        except ValueError:
            kind = response.headers.get("content-type", "no content type")[:60]
            raise ProviderError(self.provider, "bad_response",
                                f"{method} {path} returned non-JSON ({kind})") from None

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.info("%s: %s; retry %d/%d in %.2fs", self.provider, why, attempt,
                 self.retry.attempts - 1, delay)
        self.sleep(delay)

    def check_url(self, url: str) -> httpx.URL:
        """A download URL we may fetch: http(s) only (http only when the API itself is), never
        a cloud metadata or link-local address, and loopback/private hosts only when the API
        itself is served there (the emulators)."""
        try:
            target = httpx.URL(url)
            host = target.host
        except (httpx.InvalidURL, TypeError, ValueError):  # ValueError: IDNA errors
            raise ProviderError(self.provider, "unsafe_url", "download URL is malformed"
                                ) from None
        base = httpx.URL(self.base_url)
        allowed = {"https", base.scheme}
        where = f"{target.scheme or 'relative'}://{host}"
        if target.scheme not in allowed or not host:
            raise ProviderError(self.provider, "unsafe_url",
                                f"refusing to download from {where} (scheme not allowed)")
        ip = _host_ip(host)
        if host.lower() in _METADATA_HOSTS or (ip is not None and (
                ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved)):
            raise ProviderError(self.provider, "unsafe_url",
                                f"refusing to download from {where} (internal address)")
        if _is_internal(host) and not _is_internal(base.host):
            raise ProviderError(self.provider, "unsafe_url",
                                f"refusing to download from {where} (private address)")
        return target

    def _open(self, url: str, with_auth: bool) -> httpx.Response:
        """GET `url` streamed, following redirects by hand so every hop is checked and the
        credentials go only to the API's own origin (httpx keeps custom headers across hosts)."""
        origin = httpx.URL(self.base_url)
        for _hop in range(MAX_REDIRECTS + 1):
            target = self.check_url(url)
            same = (target.scheme, target.host, target.port) == (
                origin.scheme, origin.host, origin.port)
            headers = self.headers() if with_auth and same else {}
            try:
                # httpx parses a redirect's Location even when not following it.
                response = self.client.send(self.client.build_request("GET", target,
                                                                      headers=headers),
                                            stream=True, follow_redirects=False)
            except (httpx.InvalidURL, UnicodeError):
                raise ProviderError(self.provider, "unsafe_url", "download redirected to a "
                                    "malformed URL") from None
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            response.close()
            try:
                url = str(target.join(location))
            except (httpx.InvalidURL, ValueError):
                raise ProviderError(self.provider, "unsafe_url", "download redirected to a "
                                    "malformed URL") from None
        raise ProviderError(self.provider, "download_failed",
                            f"download redirected more than {MAX_REDIRECTS} times")

    def download(self, url: str, dest: Path, *, refresh: Callable[[], str] | None = None,
                 with_auth: bool = False, chunk: int = 1 << 16,
                 max_bytes: int = MAX_DOWNLOAD_BYTES) -> int:
        """Stream `url` into `dest` following redirects; on 403/404 (an expired link) ask
        `refresh` for a fresh URL. Stops (and removes `dest`) past `max_bytes`. Returns the
        byte count."""
        refreshes = 0
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._open(url, with_auth)
                with closing(response):
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
                    return self.save(response, dest, chunk, max_bytes)
            except httpx.TransportError as exc:
                if attempt == self.retry.attempts:
                    raise ProviderError(self.provider, "download_failed",
                                        f"download failed: {type(exc).__name__}",
                                        retryable=True) from None
                self._pause(attempt, None, f"download {type(exc).__name__}")
        raise ProviderError(self.provider, "download_failed", "download kept failing",
                            retryable=True)

    def save(self, response: httpx.Response, dest: Path, chunk: int, max_bytes: int) -> int:
        """Write the body to `dest`, refusing (before or while reading) more than `max_bytes`."""
        too_large = ProviderError(self.provider, "too_large",
                                  f"download is larger than the {max_bytes} byte limit")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        size = 0
        with dest.open("wb") as out:
            for part in response.iter_bytes(chunk):
                size += len(part)
                if size > max_bytes:
                    break
                out.write(part)
        if size > max_bytes:
            dest.unlink(missing_ok=True)
            raise too_large
        return size

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
