"""ROI coding figures of a learned codec on real pixels (measures and prints; asserts nothing).

Run: ``python -m workbench.bench.roi_codec [--codec cheng2020-gmm] [--task cloud]
[--seeds 101 104 106] [--qualities 1 2 3 4] [--real ../shared/data]``. For each scene (generated,
plus the real Landsat-8 TIRS scene when ``--real`` names the sample folder) and quality it prints
the bytes and the PSNR inside / outside the detected ROI without ROI coding, with it (gain 4), and
at equal bytes (:func:`shared.codecs.learned.roi_rate.fit_roi_rate` within the plain payload's
size). Bytes are payload bytes, plus the container's ROI record for the ROI rows.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from shared.codecs.base import EncodedPayload, RasterSpec, RateTarget
from shared.codecs.learned.checkpoint import CheckpointStore, packaged_checkpoints_dir
from shared.codecs.learned.codec import LearnedCodec
from shared.codecs.learned.roi_gain import DEFAULT_ROI_GAIN
from shared.codecs.learned.roi_rate import fit_roi_rate, roi_record_bytes
from shared.codecs.registry import get_codec
from shared.errors import RateTargetError
from shared.metrics.distortion import psnr_db

Scene = tuple[str, np.ndarray, RasterSpec, np.ndarray]


def _scenes(task: str, seeds: list[int], real: Path | None) -> Iterator[Scene]:
    from satellite_node.detectors import detect_roi
    from shared.compression import build_spec
    from shared.roi.masks import block_mask
    from shared.sensors.profiles import get_profile
    from workbench.datasets.generate import generate_scene

    profile = get_profile(task)
    images = [(f"{task}-{seed}", generate_scene(task, seed).image) for seed in seeds]
    if real is not None and task == "cloud":
        from workbench.datasets.samples import load_tirs_cloud_scene

        sample = load_tirs_cloud_scene(real)
        images.append((sample.scene_id, sample.image))
    for scene_id, image in images:
        spec = build_spec(image, scale=profile.global_max, bit_depth=profile.bit_depth)
        yield scene_id, image, spec, block_mask(detect_roi(task, image)).pixels()


def _row(
    label: str, image: np.ndarray, spec: RasterSpec, roi: np.ndarray, e: EncodedPayload
) -> str:
    def psnr(where: np.ndarray) -> str:
        if not where.any():
            return "   -  "
        return f"{psnr_db(image[:, where], e.reconstruction[:, where], spec.scale):6.2f}"

    size = len(e.payload) + roi_record_bytes(e.roi)
    rate = f"{size:7d} B {size * 8 / spec.pixels:7.4f} bpp"
    return f"    {label:<26} {rate}  in {psnr(roi)}  out {psnr(~roi)}"


def report(codec: LearnedCodec, scenes: Iterator[Scene], qualities: list[int]) -> None:
    """Print the plain / ROI / equal-bytes rows of every scene and quality."""
    for scene_id, image, spec, roi in scenes:
        print(f"{scene_id} {spec.shape}: {roi.mean():.1%} of the pixels in the ROI")
        for quality in qualities:
            target = RateTarget(quality=quality)
            plain = codec.encode(image, spec, target)
            print(_row(f"q{quality} plain", image, spec, roi, plain))
            coded = codec.encode(image, spec, target, roi_mask=roi)
            print(_row(f"q{quality} roi gain {DEFAULT_ROI_GAIN.gain:g}", image, spec, roi, coded))
            try:
                fit = fit_roi_rate(codec, image, spec, roi, max_bytes=len(plain.payload))
            except RateTargetError:
                print(f"    {'equal bytes':<26} no ROI encode fits {len(plain.payload)} B")
                continue
            label = (
                f"equal bytes q{fit.quality} x{fit.roi_gain.gain:g}"
                f"/{fit.roi_gain.background_gain:g}"
            )
            print(_row(label, image, spec, roi, fit.encoded))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="cheng2020-gmm")
    parser.add_argument("--task", default="cloud", choices=("fire", "cloud", "building"))
    parser.add_argument("--seeds", type=int, nargs="*", default=[101, 104, 106])
    parser.add_argument("--qualities", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--real", type=Path, default=None, help="the sample data folder")
    args = parser.parse_args(argv)
    store = CheckpointStore([packaged_checkpoints_dir() / "codec" / args.task])
    codec = get_codec(args.codec, checkpoints=store)
    if not isinstance(codec, LearnedCodec):
        raise SystemExit(f"{args.codec} is not a learned codec")
    report(codec, _scenes(args.task, args.seeds, args.real), args.qualities)


if __name__ == "__main__":
    main()
