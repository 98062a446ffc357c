"""zorgbroker: care data to registries, safely."""

__version__ = "0.1.0"
