"""The trusted third party (TTP) and the source side: two-stage keyed pseudonymisation,
reversible only for the implant register, under two-officer approval, with an audit log.
The method is documented in docs/pseudonymisation.md."""
