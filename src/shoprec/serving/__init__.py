"""Serving: the live recommendation service (retrieval index, event store, live state, HTTP API)."""
