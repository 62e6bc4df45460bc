"""Guardline: streaming safety signals from chat metadata, never message content."""
