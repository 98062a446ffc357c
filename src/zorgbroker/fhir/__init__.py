"""A FHIR STU3 server of zib resources for patient access (MedMij), issue 17.

`store` keeps resources and their search index in the platform's database, `search` answers the
qualification's searches, `routes` serves them over HTTP behind a `TokenVerifier`, and
`testscript` runs Nictiz's TestScripts against any server.
"""
