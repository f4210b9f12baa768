"""``eodl bench patches``: patches sent together cost less on the link, with the same pixels."""

from __future__ import annotations

import pytest

from shared.codecs.base import RateTarget
from workbench.bench.patches import measure, patch_table


def test_patches_sent_together_share_one_transfer_and_keep_their_pixels() -> None:
    alone, together = measure("jpeg2000", RateTarget(bpp=2.0), 4)
    assert (alone.together, together.together) == (1, 4)
    assert together.psnr == pytest.approx(alone.psnr, abs=1e-9)  # each patch coded alike
    # the announcement and three requests are shared: a patch costs far less than alone
    assert together.link_bytes < alone.link_bytes / 2
    assert together.container_bytes < alone.container_bytes
    assert len(patch_table([alone, together]).splitlines()) == 3
