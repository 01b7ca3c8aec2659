"""Widgets only: each turns a user action into one call on an app service."""
