"""Synthetic data for the three datasets, clean or with seeded faults whose messages are known.

`generate()` writes a file; `Generated.expected` lists every message the check engine must raise
on it (none for a clean file). `message_fields` documents which field each message names.
"""

from zorgbroker.intake.generate.api import DATASETS, generate
from zorgbroker.intake.generate.model import Expected, Generated

__all__ = ["DATASETS", "Expected", "Generated", "generate"]
