"""Data files shipped with the portal (see README.md in this folder)."""
