from zorgbroker.intake.spec.loader import SpecError, available, load_dataset, load_path
from zorgbroker.intake.spec.model import DatasetSpec, FieldSpec, RuleSpec, TableSpec

__all__ = [
    "DatasetSpec",
    "FieldSpec",
    "RuleSpec",
    "SpecError",
    "TableSpec",
    "available",
    "load_dataset",
    "load_path",
]
