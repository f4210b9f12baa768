"""Sensors: the three task profiles, radiometric physics, readers for real rasters.

Import the submodules directly (``shared.sensors.profiles``, ``shared.sensors.readers``, ...);
this package imports nothing heavy (no torch) on its own.
"""
