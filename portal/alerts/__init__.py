"""Outbound alerts: message texts (messages.py), the platforms' senders (platforms.py) and the
safety layer for webhook calls (outbound.py). A shared package, not a blueprint."""
