"""The ways of checking an upload's tables; `run.check_tables` picks one per upload."""
