"""The test kit: a fault-injecting loopback newsroom, an SMTP sink and the sample's answer key.

Dev-only (tests, benches, scripts run from the repository root): nothing in `banwatch` imports it.
"""
