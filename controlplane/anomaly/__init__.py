"""Anomaly detection on the access log: detectors, alerts, and the response to them."""
