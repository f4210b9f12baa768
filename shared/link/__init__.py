"""The downlink's radio link, emulated in process: a link profile (rate, latency, passes,
outages) and a token-bucket emulator the satellite's sender pushes every request through."""

from shared.link.emulator import LinkEmulator, LinkInterruptedError
from shared.link.profile import LinkProfile, PassWindow

__all__ = ["LinkEmulator", "LinkInterruptedError", "LinkProfile", "PassWindow"]
