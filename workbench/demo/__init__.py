"""The end-to-end demo: both services as real processes on loopback, scenes through the link."""
