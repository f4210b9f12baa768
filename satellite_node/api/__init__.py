"""The satellite node's REST routes (versioned under ``/v1``)."""
