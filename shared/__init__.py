"""Library shared by the satellite node and the ground station.

Codecs, wire format, metrics, data, models and training. Importing it has no side effects.
"""
