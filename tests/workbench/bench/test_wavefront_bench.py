"""The wavefront benchmark: its decoders agree on the pixels (timings are printed, not tested)."""

from __future__ import annotations

from workbench.bench.wavefront import format_timing, time_decoders


def test_benchmark_decoders_give_identical_pixels() -> None:
    timing = time_decoders((2, 64, 128), 8, 1)
    assert timing.identical
    assert set(timing.decode_s) == {"raster", "sequential", "wavefront", "compressai"}
    assert "identical pixels: yes" in format_timing(timing)
