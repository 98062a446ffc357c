"""The API for machines under `/api/v1`: submit a stage-1 file, follow its status, read the
history and the reports, with per-user bearer tokens (`accounts.api_tokens`).

A FastAPI application of its own, mounted in the portal: its OpenAPI document is
`/api/v1/openapi.json`, and the portal's CSRF check (for browser forms) does not apply to it,
since a bearer token is not sent by a browser on its own.
"""
