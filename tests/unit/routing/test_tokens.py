from runtime.routing.tokens import Tokens


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_opens_its_endpoint_until_it_expires() -> None:
    clock = Clock()
    tokens = Tokens(b"s" * 32, 600, clock)
    creds = tokens.issue("digits", "uid-1")
    assert creds["tokenType"] == "Bearer"
    assert creds["expiryTimeUtc"] == 1_800_000_600 and creds["refreshAfterTimeUtc"] == 1_800_000_300
    token = str(creds["accessToken"])
    assert tokens.valid(token, "digits", "uid-1")
    assert not tokens.valid(token, "other", "uid-1")
    clock.now += 601
    assert not tokens.valid(token, "digits", "uid-1")


def test_tokens_from_another_secret_or_tampered_are_refused() -> None:
    clock = Clock()
    mine, theirs = Tokens(b"a" * 32, 600, clock), Tokens(b"b" * 32, 600, clock)
    foreign = str(theirs.issue("digits", "uid-1")["accessToken"])
    assert not mine.valid(foreign, "digits", "uid-1")
    token = str(mine.issue("digits", "uid-1")["accessToken"])
    assert not mine.valid(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "digits", "uid-1")
    assert not mine.valid("not-a-jwt", "digits", "uid-1")


def test_a_token_does_not_open_an_endpoint_created_again_under_the_same_name() -> None:
    tokens = Tokens(b"s" * 32, 600, Clock())
    token = str(tokens.issue("digits", "first")["accessToken"])
    assert tokens.valid(token, "digits", "first")
    assert not tokens.valid(token, "digits", "second")


def test_a_token_without_the_creation_claim_is_refused() -> None:
    import jwt

    clock = Clock()
    bare = jwt.encode({"aml_endpoint": "digits", "iat": 1, "exp": int(clock.now) + 60}, b"s" * 32, algorithm="HS256")
    assert not Tokens(b"s" * 32, 600, clock).valid(bare, "digits", "")
