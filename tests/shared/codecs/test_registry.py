"""The codec registry: one decorator per codec, permanent names and wire ids, capabilities."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.codecs import Capabilities, all_codecs, codec_info, codec_info_by_wire_id, get_codec
from shared.codecs.base import Codec
from shared.codecs.registry import register_codec
from shared.errors import ConfigurationError, UnknownNameError

#: Written into every container ever made: a change here breaks old containers.
PERMANENT_WIRE_IDS = {
    "jpeg2000": 1,
    "jpeg-xl": 2,
    "jpeg2000-spectral": 3,
    "factorized-prior": 10,
    "scale-hyperprior": 11,
    "mean-scale-hyperprior": 12,
    "cheng2020-anchor": 13,
    "cheng2020-attn": 14,
    "cheng2020-gmm": 15,
    "cheng2020-checkerboard": 16,
}


def test_every_codec_keeps_its_permanent_wire_id() -> None:
    assert {i.name: i.wire_id for i in all_codecs()} == PERMANENT_WIRE_IDS
    for name, wire_id in PERMANENT_WIRE_IDS.items():
        assert codec_info_by_wire_id(wire_id).name == name


def test_the_class_carries_what_its_decorator_registered() -> None:
    for info in all_codecs():
        codec = get_codec(info.name)
        assert (codec.name, codec.wire_id, codec.kind) == (info.name, info.wire_id, info.kind)
        assert codec.capabilities == info.capabilities


def test_capabilities_say_what_jpeg2000_and_the_learned_codecs_do() -> None:
    assert codec_info("jpeg2000").capabilities == Capabilities(
        roi="background-lowpass", lossless=True
    )
    learned = codec_info("cheng2020-gmm").capabilities
    assert (learned.roi, learned.weights, learned.block, learned.lossless) == (
        "latent-gain",
        True,
        64,
        False,
    )


@pytest.mark.parametrize(("name", "wire_id"), [("jpeg2000", 99), ("my-codec", 15)])
def test_a_taken_name_or_wire_id_is_refused(name: str, wire_id: int) -> None:
    with pytest.raises(ConfigurationError, match="names and ids are permanent"):

        @register_codec(
            name, wire_id=wire_id, kind="classical", summary="x", capabilities=Capabilities()
        )
        class Clash(Codec):  # pragma: no cover - never instantiated
            pass

    assert {i.name: i.wire_id for i in all_codecs()} == PERMANENT_WIRE_IDS  # nothing changed


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownNameError, match="valid codecs: jpeg2000, jpeg-xl, jpeg2000-spectral, factorized"
    ):
        codec_info("webp")


def test_a_jpeg2000_lookup_does_not_import_torch() -> None:
    # the satellite codes JPEG 2000 without torch: importing CompressAI costs ~7 s here, which
    # delayed a fresh satellite's first scene past the netns test's goodput bound
    script = (
        "import sys; from shared.codecs.registry import codec_info, codec_info_by_wire_id; "
        "import shared.compression; codec_info('jpeg2000'); codec_info_by_wire_id(1); "
        "codec_info('jpeg-xl'); "
        "print('torch' in sys.modules, 'compressai' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_every_learned_codec_has_one_architecture_entry() -> None:
    from shared.codecs.learned.architectures import ARCHITECTURES

    learned = {info.name for info in all_codecs() if info.kind == "learned"}
    assert learned == set(ARCHITECTURES)
