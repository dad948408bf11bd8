"""Google's OAuth token endpoint for service accounts (JWT-bearer grant), as the Veo emulator's
`POST /token`: lets google-auth's real Application Default Credentials path run on loopback."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.responses import JSONResponse, Response

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# google-auth signs service-account grants for Google's endpoint whatever the key file's
# token_uri says, and Google checks exactly that audience.
AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class TokenIssuer:
    """Service accounts it knows (email → public key PEM) and the access tokens it issued."""

    lifetime: int = 3600
    accounts: dict[str, bytes] = field(default_factory=dict)
    issued: dict[str, float] = field(default_factory=dict)  # token → expiry (epoch seconds)
    used: dict[str, int] = field(default_factory=dict)  # token → requests it authorized
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepts(self, token: str) -> bool:
        """Whether `token` is one this issuer handed out and it has not expired."""
        with self.lock:
            expiry = self.issued.get(token)
            ok = expiry is not None and time.time() < expiry
            if ok:
                self.used[token] = self.used.get(token, 0) + 1
        return ok


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _claims(issuer: TokenIssuer, assertion: str) -> dict[str, Any] | str:
    """The verified claims of a signed JWT, or why it is refused."""
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header, claims = json.loads(_b64(header_b64)), json.loads(_b64(payload_b64))
    except ValueError:
        return "malformed JWT"
    if header.get("alg") != "RS256":
        return "JWT must be signed with RS256"
    pem = issuer.accounts.get(str(claims.get("iss")))
    if pem is None:
        return "Invalid JWT Signature."  # Google's answer to an unknown or deleted key
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(_b64(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                   padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "Invalid JWT Signature."
    now = time.time()
    if claims.get("aud") != AUDIENCE:
        return f"Invalid JWT: audience must be {AUDIENCE}"
    if not isinstance(claims.get("exp"), int) or not claims["exp"] > now - 30:
        return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
    if SCOPE not in str(claims.get("scope", "")).split():
        return "Invalid JWT: the scope must include cloud-platform"
    return dict(claims)


def token(issuer: TokenIssuer, raw: bytes) -> Response:
    """`POST /token` with `grant_type=…jwt-bearer&assertion=<JWT>` → a bearer access token."""
    form = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()}
    if form.get("grant_type") != GRANT:
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "Invalid grant_type"}, 400)
    claims = _claims(issuer, form.get("assertion", ""))
    if isinstance(claims, str):
        return JSONResponse({"error": "invalid_grant", "error_description": claims}, 400)
    access = f"ya29.emulated-{secrets.token_urlsafe(24)}"
    with issuer.lock:
        issuer.issued[access] = time.time() + issuer.lifetime
    return JSONResponse({"access_token": access, "expires_in": issuer.lifetime,
                         "token_type": "Bearer"})
