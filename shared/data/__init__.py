"""EO data: sensor profiles, synthetic scene generators, readers for real rasters, datasets.

Import the submodules directly (``shared.data.profiles``, ``shared.data.readers``, ...); this
package imports nothing heavy (no torch) on its own.
"""
