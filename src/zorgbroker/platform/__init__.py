"""The platform as a whole: `zorgbroker demo` on one machine and `zorgbroker serve` in
production, both wired by the composition root."""
