"""Identify and engage the populations who need CMM: the prioritised patient list per team (internal only)."""
