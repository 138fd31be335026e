"""Scheduled jobs shared by control planes on one database: each slot of a job runs once."""
