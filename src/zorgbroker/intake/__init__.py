"""The intake check: dataset specifications, readers, the check and the quality report.

Other packages use `zorgbroker.intake.api` only; everything else here is private to intake.
"""
