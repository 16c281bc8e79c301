"""Bearer tokens of the batch REST routes: the local stand-in for `az account get-access-token --resource
https://ml.azure.com`, a JWT (HS256, PyJWT) signed with the state directory's secret, for that audience, expiring.

Endpoint tokens (runtime.routing.tokens) carry no audience and these carry no endpoint, so neither opens the other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import jwt

#: The resource `az account get-access-token --resource` names for Azure ML's data plane.
AUDIENCE = "https://ml.azure.com"
_ISSUER = "modelyard"


class AccessTokens:
    """Issues and checks the Bearer tokens of the batch REST routes."""

    def __init__(self, secret: bytes, lifetime_s: int, clock: Callable[[], float]) -> None:
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._clock = clock

    def issue(self) -> dict[str, Any]:
        """A token shaped as `az account get-access-token` prints it."""
        now = int(self._clock())
        expiry = now + self._lifetime_s
        token = jwt.encode({"aud": AUDIENCE, "iss": _ISSUER, "iat": now, "exp": expiry}, self._secret, "HS256")
        local = datetime.datetime.fromtimestamp(expiry).strftime("%Y-%m-%d %H:%M:%S.%f")
        return {
            "accessToken": token,
            "expiresOn": local,
            "expires_on": expiry,
            "subscription": "local",
            "tenant": "local",
            "tokenType": "Bearer",
        }

    def valid(self, token: str) -> bool:
        """True when `token` was issued here for AUDIENCE and has not expired (by the injected clock)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "aud", "iss"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return False
        return int(claims["exp"]) > self._clock()
