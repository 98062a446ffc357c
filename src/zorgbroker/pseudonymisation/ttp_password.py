"""Whether a TTP password is strong enough to guard a wrapped source key.

The wrapped key travels through the registry, which can therefore try passwords against it
offline, as fast as its hardware runs PBKDF2 (docs/pseudonymisation.md, 9.4). So the bar is
higher than for a sign-in password, which a server's attempt counter protects: zxcvbn must
estimate at least 10^14 guesses. The TTP cannot use the accounts package (the TTP knows nothing
of the registry side), so this is its own short check on the same estimator.
"""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 256
#: log10 of the guesses zxcvbn must estimate: 10^14 guesses at 1,000,000 PBKDF2 rounds keep a
#: GPU busy for centuries (the arithmetic is in docs/pseudonymisation.md, 9.4).
MIN_GUESSES_LOG10 = 14.0
#: zxcvbn's matching grows with length; it refuses more than this (a lower bound for the rest).
_ZXCVBN_MAX = 72


def personal_words(*values: str) -> list[str]:
    """The e-mail address and organisation, split into what a guesser tries first."""
    words: list[str] = []
    for value in values:
        lowered = value.lower()
        words.append(lowered)
        words.extend(p for p in lowered.replace("@", " ").replace(".", " ").split() if len(p) > 2)
    return words


def password_problems(password: str, *, personal: Sequence[str] = ()) -> list[str]:
    """What is wrong with a new TTP password, in Dutch; empty when it will do."""
    if len(password) < MIN_LENGTH:
        return [f"Het TTP-wachtwoord is korter dan {MIN_LENGTH} tekens."]
    if len(password) > MAX_LENGTH:
        return [f"Het TTP-wachtwoord is langer dan {MAX_LENGTH} tekens."]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=list(personal))
    if float(result["guesses_log10"]) >= MIN_GUESSES_LOG10:
        return []
    return [
        "Het TTP-wachtwoord is te makkelijk te raden. Kies een zin van vier of meer ongewone "
        "woorden; die is sterk en goed te onthouden. Namen, datums, uw e-mailadres en bekende "
        "wachtwoorden zijn snel geraden."
    ]
