"""The web portal: server-rendered screens for suppliers, factors, core enterprises, the operator
and auditors, on top of the gateway's /v1 API and the indexer's auditor API (called over HTTP with
the logged-in user's API key, which stays server-side)."""
