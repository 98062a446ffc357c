"""Uploads: taking a file in, running it through the whole intake, and the history.

Everything that starts an upload (the command line, the portal, its API, the send module) calls
`service.UploadService`, which is handed its collaborators; `zorgbroker.composition` builds it
from the settings. Importing this package costs nothing: its modules import what they need.
"""
