"""An organisation's password policy, with the fields practices know from their own systems.

The defaults follow OWASP ASVS 5.0 level 2: no forced rotation (change after 0 days = never), a
minimum length without composition rules, a check against common and breached passwords,
multi-factor authentication required. Attempts and lock time slow guessing down; a browser that
signed in before is not locked out (see `services.AuthenticationService`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Passwords longer than this are refused to bound the hashing work, never truncated.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class PasswordPolicy:
    #: Minimum strength as a percentage (see `passwords.strength_percent`).
    min_strength: int = 60
    min_length: int = 12
    #: Days after which the password must be changed; 0 = never (ASVS 5.0: no forced rotation).
    change_after_days: int = 0
    #: Days before that moment the user is warned.
    warn_days: int = 0
    #: Days without signing in after which the account is disabled; 0 = never.
    disable_after_days: int = 0
    #: Failed attempts before the account refuses passwords from unknown browsers.
    attempts: int = 5
    lock_seconds: int = 30 * 60
    #: Earlier passwords that may not be used again.
    history: int = 5
    two_step_required: bool = True

    def problems(self) -> list[str]:
        """What is wrong with these settings, in Dutch; empty when they may be saved."""
        found = []
        if not 0 <= self.min_strength <= 100:
            found.append("De minimale sterkte is een percentage van 0 tot en met 100.")
        if not 8 <= self.min_length <= 64:
            found.append("De minimale lengte ligt tussen 8 en 64 tekens.")
        for label, value in (
            ("Wijzigen na", self.change_after_days),
            ("Waarschuwen voor", self.warn_days),
            ("Uitschakelen na", self.disable_after_days),
            ("Wachtwoordgeschiedenis", self.history),
        ):
            if not 0 <= value <= 3650:
                found.append(f"{label}: een aantal van 0 tot en met 3650.")
        if not 1 <= self.attempts <= 100:
            found.append("Aantal pogingen: van 1 tot en met 100.")
        if not 60 <= self.lock_seconds <= 24 * 3600:
            found.append("Blokkeertijd: van 1 minuut tot en met 24 uur.")
        if self.change_after_days and self.warn_days >= self.change_after_days:
            found.append("Waarschuwen voor moet korter zijn dan Wijzigen na.")
        return found


DEFAULT_POLICY = PasswordPolicy()
