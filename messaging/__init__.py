"""Broker setup, the live event bus and mail: the plumbing between processes."""
