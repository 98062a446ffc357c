"""The registry: its database, the comparison with held data, the import, and the history.

Entry points: `uploads.submit_upload` and `uploads.process_upload` (one upload through the whole
intake), `uploads.list_uploads` / `uploads.load_report` (history), `devices.find_carriers`
(implant traceability), `registry_db.open_registry` (the database, migrated). Modules import
their heavy dependencies themselves, so importing this package costs nothing.
"""
