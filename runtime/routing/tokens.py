"""Access tokens for endpoints with `auth_mode: aml_token` (and `aad_token`, which cannot be checked locally).

Tokens are JWTs (HS256, PyJWT) signed with a secret kept in the state directory, naming the endpoint they are for
and when they expire. Azure documents no lifetime for aml tokens, so it is a setting (`serve --token-lifetime`).
"""

from __future__ import annotations

from collections.abc import Callable

import jwt

#: Claim naming the endpoint a token is for; a token for one endpoint never opens another.
_ENDPOINT = "aml_endpoint"


class Tokens:
    """Issues and checks endpoint tokens."""

    def __init__(self, secret: bytes, lifetime_s: int, clock: Callable[[], float]) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, endpoint: str) -> dict[str, object]:
        """A new token, shaped as Azure's token API returns it (epoch seconds)."""
        now = int(self._clock())
        expiry = now + self.lifetime_s
        token = jwt.encode({_ENDPOINT: endpoint, "iat": now, "exp": expiry}, self._secret, algorithm="HS256")
        return {
            "accessToken": token,
            "expiryTimeUtc": expiry,
            "refreshAfterTimeUtc": now + self.lifetime_s // 2,
            "tokenType": "Bearer",
        }

    def valid(self, token: str, endpoint: str) -> bool:
        """True when `token` was issued here for `endpoint` and has not expired."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iat", _ENDPOINT], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return False
        # Expiry is checked against the injected clock, not PyJWT's own, so tests can move time.
        return claims.get(_ENDPOINT) == endpoint and int(claims["exp"]) > self._clock()
