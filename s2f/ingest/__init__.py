"""Ingest: sources of clips, probing, and the clip table."""
