"""Access tokens for endpoints with `auth_mode: aml_token` (and `aad_token`, which cannot be checked locally).

Tokens are JWTs (HS256, PyJWT) signed with a secret kept in the state directory, naming the endpoint they are for,
which creation of it (its uid: an endpoint deleted and created again under the same name is another endpoint),
and when they expire. Azure documents no lifetime for aml tokens, so it is a setting (`serve --token-lifetime`).
"""

from __future__ import annotations

from collections.abc import Callable

import jwt

#: Claim naming the endpoint a token is for; a token for one endpoint never opens another.
_ENDPOINT = "aml_endpoint"
#: Claim naming the creation of that endpoint; a token outlives neither the endpoint nor its deletion.
_UID = "aml_endpoint_uid"


class Tokens:
    """Issues and checks endpoint tokens."""

    def __init__(self, secret: bytes, lifetime_s: int, clock: Callable[[], float]) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, endpoint: str, uid: str) -> dict[str, object]:
        """A new token for the endpoint created with `uid`, shaped as Azure's token API returns it (epoch seconds)."""
        now = int(self._clock())
        expiry = now + self.lifetime_s
        claims = {_ENDPOINT: endpoint, _UID: uid, "iat": now, "exp": expiry}
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        return {
            "accessToken": token,
            "expiryTimeUtc": expiry,
            "refreshAfterTimeUtc": now + self.lifetime_s // 2,
            "tokenType": "Bearer",
        }

    def valid(self, token: str, endpoint: str, uid: str) -> bool:
        """True when `token` was issued here for `endpoint` as created with `uid`, and has not expired."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iat", _ENDPOINT, _UID], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return False
        # Expiry is checked against the injected clock, not PyJWT's own, so tests can move time.
        same = claims.get(_ENDPOINT) == endpoint and claims.get(_UID) == uid
        return same and int(claims["exp"]) > self._clock()
