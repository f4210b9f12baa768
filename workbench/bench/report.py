"""Text tables of benchmark rows (the JSON rows of :mod:`workbench.bench.codecs`)."""

from __future__ import annotations

from typing import Any

_HEADER = (
    f"{'codec':24s} {'profile':9s} {'shape':10s} {'dev':4s} {'thr':>3s} "
    f"{'enc Mpx/s':>10s} {'dec Mpx/s':>10s} {'enc MS/s':>9s} {'dec MS/s':>9s} "
    f"{'RSS MB':>7s} {'exact':5s}"
)


def codec_table(rows: list[dict[str, Any]]) -> str:
    """One line per codec and profile, then one indented line per reference with the ratios
    (reference seconds over ours: above 1 means ours is faster)."""
    lines = [_HEADER]
    for row in rows:
        shape = "x".join(str(side) for side in row["shape"])
        name = row["codec"]
        if row.get("widths") and not row.get("untrained"):
            name += " N={} M={}".format(*row["widths"])  # a shipped, trained model
        lines.append(
            f"{name:24s} {row['profile']:9s} {shape:10s} {row['device']:4s} "
            f"{row['threads']:3d} {row['encode_mpix_s']:10.4f} {row['decode_mpix_s']:10.4f} "
            f"{row['encode_msamples_s']:9.4f} {row['decode_msamples_s']:9.4f} "
            f"{row['peak_rss_mb']:7.0f} {'yes' if row['exact'] else 'NO':5s}"
        )
        for ref in row.get("references", []):
            lines.append(
                f"  vs {ref['name']:32s} enc {ref['encode_mpix_s']:.4f} Mpx/s "
                f"dec {ref['decode_mpix_s']:.4f} Mpx/s   ours/ref speed: encode "
                f"x{ref['encode_ratio']:.2f} decode x{ref['decode_ratio']:.2f}"
                f"{'' if ref['exact'] else '  (reference output NOT exact)'}"
            )
    return "\n".join(lines)
