"""Operator tools: consumer lag, Flow Service provisioning, profile lookup, dead-letter replay."""
