"""The downlink's radio link, emulated in process: a link profile (rate, latency, passes,
outages) and a token-bucket emulator the satellite's sender pushes every request through."""

from satellite_node.link.emulator import LinkEmulator, LinkInterruptedError
from satellite_node.link.profile import LinkProfile, PassWindow

__all__ = ["LinkEmulator", "LinkInterruptedError", "LinkProfile", "PassWindow"]
