"""What the satellite node and the ground station both import.

Codecs (with tiling), the wire format, the downlink protocol, sensor profiles and readers,
metrics, segmentation models, the compression pipeline, errors and durable files. Importing it
has no side effects.
"""
