"""The registry's own column names in the data tables, shared by the layout and the comparisons."""

from __future__ import annotations

ID, UPLOAD_ID, PARENT_ID = "_id", "_upload_id", "_parent_id"
SYSTEM_COLUMNS = (ID, UPLOAD_ID, PARENT_ID)
#: The value column of a serial table (`layout.ValueTable`).
VALUE = "value"
