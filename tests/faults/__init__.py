"""Fault tests (reliability.md §3.2, F1-F21): what the gateway survives, and what it keeps."""
