"""Files customers and staff attach (to disputes, replies): checked, stored, scanned, served.

Owners keep their own link tables to `StoredFile` ids; this area only knows the files. See
`service.store_uploads` for what an upload must pass (SECURITY.md U1-U5).
"""
