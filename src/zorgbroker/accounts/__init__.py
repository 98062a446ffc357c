"""Accounts: organisations, users, passwords, second factors, sessions and the security log.

Laid out like warehouse's `accounts` package: `models` (tables), `interfaces` (what the services
are handed, as protocols, and their errors), the services (`services`, `authentication`,
`two_factor`, `sessions`, `security_log`), `collaborators` (production clock, secret box, rate
limiter, mailer) and `standins` (their test doubles). `services.build_services` wires them.
"""
