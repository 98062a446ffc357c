"""The registry: its database, the comparison with held data, the import, and the history.

Entry points: `importer.import_records` (compare and store an upload's accepted records, used by
`zorgbroker.uploads`), `devices.find_carriers` (implant traceability),
`registry_db.open_registry_database` (the database, migrated; `zorgbroker.composition` opens it
from the settings). Modules import their heavy dependencies themselves, so importing this
package costs nothing.
"""
