"""Upload readers: CSV, XLSX and ZIP files as tables of text, read in bounded batches."""

from zorgbroker.intake.readers.base import FileWarning, Limits, ReadError, Table, Upload
from zorgbroker.intake.readers.upload import open_upload

__all__ = ["FileWarning", "Limits", "ReadError", "Table", "Upload", "open_upload"]
