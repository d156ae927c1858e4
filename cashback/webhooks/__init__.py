"""Signed webhooks about claims (issue 17): endpoints and their sealed secrets, the guarded
sender (no SSRF) and the dispatch of the outbox to the delivery workflows."""
