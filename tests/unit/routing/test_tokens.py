from runtime.routing.tokens import Tokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_opens_its_endpoint_until_it_expires() -> None:
    clock = Clock()
    tokens = Tokens(b"s" * 32, 600, clock)
    creds = tokens.issue("digits")
    assert creds["tokenType"] == "Bearer"
    assert creds["expiryTimeUtc"] == 1_800_000_600 and creds["refreshAfterTimeUtc"] == 1_800_000_300
    token = str(creds["accessToken"])
    assert tokens.valid(token, "digits")
    assert not tokens.valid(token, "other")
    clock.now += 601
    assert not tokens.valid(token, "digits")


def test_tokens_from_another_secret_or_tampered_are_refused() -> None:
    clock = Clock()
    mine, theirs = Tokens(b"a" * 32, 600, clock), Tokens(b"b" * 32, 600, clock)
    foreign = str(theirs.issue("digits")["accessToken"])
    assert not mine.valid(foreign, "digits")
    token = str(mine.issue("digits")["accessToken"])
    assert not mine.valid(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "digits")
    assert not mine.valid("not-a-jwt", "digits")
