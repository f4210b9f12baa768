"""The downlink: a signed protocol client of the ground and the sender that drives it."""

from satellite_node.downlink.client import GroundClient, GroundRefusedError, GroundUnavailableError
from satellite_node.downlink.sender import DownlinkSender, SenderStats

__all__ = [
    "DownlinkSender",
    "GroundClient",
    "GroundRefusedError",
    "GroundUnavailableError",
    "SenderStats",
]
