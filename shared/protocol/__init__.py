"""The downlink protocol (version 1): request signing, chunking, message bodies and routes.

Both sides import this package: the satellite's sender signs and chunks, the ground station
verifies and reassembles. See ``DESIGN.md``, "The downlink protocol (version 1)".
"""

PROTOCOL_VERSION = 1
