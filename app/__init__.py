"""Mnemo's services and wiring: Qt core only, no widgets."""
