"""The ground station's HTTP API: one router per resource, one error handler."""
