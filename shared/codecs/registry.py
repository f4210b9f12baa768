"""Codec registry: permanent kebab-case names and explicit integer wire ids, one decorator each.

Every codec class carries its identity in one place, the :func:`register_codec` decorator on
the class (as CompressAI's ``register_model``): name, wire id, kind, summary and
:class:`Capabilities`. Callers ask the capabilities (does it code an ROI, does it need trained
weights, what block does it pad to) instead of testing a codec's type or kind.

Wire ids are written into every container: never renumber or reuse one. The modules that
define codecs are imported on the first lookup (:data:`CODEC_MODULES`), not when this module
is imported, and only as far as a lookup needs (:func:`_import_until`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from shared.codecs.base import Capabilities, CodecKind
from shared.errors import ConfigurationError, UnknownNameError

if TYPE_CHECKING:
    from shared.codecs.base import Codec

#: The modules whose classes register codecs; imported once, on the first registry lookup.
CODEC_MODULES = (
    "shared.codecs.jpeg2000",
    "shared.codecs.jpegxl",
    "shared.codecs.spectral",
    "shared.codecs.learned.codec",
)


@dataclass(frozen=True)
class CodecInfo:
    """A registry entry.

    Attributes:
        name: permanent kebab-case name.
        wire_id: permanent integer written into containers.
        kind: ``classical`` or ``learned``.
        max_bands: most bands the codec accepts.
        target: ``module:Class`` of the implementation.
        summary: one line for ``eodl codecs``.
        capabilities: what the codec can do.
    """

    name: str
    wire_id: int
    kind: CodecKind
    max_bands: int
    target: str
    summary: str
    capabilities: Capabilities


_BY_NAME: dict[str, CodecInfo] = {}
_BY_WIRE_ID: dict[int, CodecInfo] = {}
_CLASSES: dict[str, type[Codec]] = {}
_C = TypeVar("_C", bound="type[Codec]")


def register_codec(
    name: str,
    *,
    wire_id: int,
    kind: CodecKind,
    summary: str,
    capabilities: Capabilities,
    max_bands: int = 16,
) -> Callable[[_C], _C]:
    """Class decorator: register a codec under a permanent name and wire id.

    The class gets ``name``, ``wire_id``, ``kind`` and ``capabilities`` as class attributes.

    Raises:
        ConfigurationError: the name or the wire id is already taken by another class.
    """

    def register(cls: _C) -> _C:
        target = f"{cls.__module__}:{cls.__qualname__}"
        info = CodecInfo(name, wire_id, kind, max_bands, target, summary, capabilities)
        for taken in (_BY_NAME.get(name), _BY_WIRE_ID.get(wire_id)):
            if taken is not None and taken.target != target:
                raise ConfigurationError(
                    f"codec {name!r} (wire id {wire_id}) clashes with {taken.name!r} "
                    f"(wire id {taken.wire_id}, {taken.target}): names and ids are permanent"
                )
        _BY_NAME[name], _BY_WIRE_ID[wire_id], _CLASSES[name] = info, info, cls
        cls.name, cls.wire_id, cls.kind = name, wire_id, kind
        cls.capabilities = capabilities
        return cls

    return register


def _import_until(found: Callable[[], bool]) -> None:
    """Import the codec modules in order until ``found()``: a JPEG 2000 lookup never imports
    torch and CompressAI (7 s here), which only the learned codecs need."""
    for module in CODEC_MODULES:
        if found():
            return
        importlib.import_module(module)


def all_codecs() -> tuple[CodecInfo, ...]:
    """Every registered codec, by wire id (imports every codec module)."""
    _import_until(lambda: False)
    return tuple(sorted(_BY_NAME.values(), key=lambda info: info.wire_id))


def codec_info(name: str) -> CodecInfo:
    """Look a codec up by name; an unknown name lists the valid ones."""
    _import_until(lambda: name in _BY_NAME)
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown codec {name!r}; valid codecs: {', '.join(i.name for i in all_codecs())}"
        ) from None


def codec_info_by_wire_id(wire_id: int) -> CodecInfo:
    """Look a codec up by the wire id a container carries."""
    _import_until(lambda: wire_id in _BY_WIRE_ID)
    try:
        return _BY_WIRE_ID[wire_id]
    except KeyError:
        valid = ", ".join(f"{i.wire_id} ({i.name})" for i in all_codecs())
        raise UnknownNameError(f"unknown codec wire id {wire_id}; valid ids: {valid}") from None


def get_codec(name: str, **options: Any) -> Codec:
    """Instantiate a codec by name. Learned codecs accept ``checkpoints=`` (a CheckpointStore)."""
    codec_info(name)
    return _CLASSES[name](**options)


def open_codec(name: str, checkpoints: Any = None) -> Codec:
    """Instantiate a codec; one that decodes with trained weights gets ``checkpoints`` (a
    CheckpointStore) when given, the others ignore it."""
    if codec_info(name).capabilities.weights and checkpoints is not None:
        return get_codec(name, checkpoints=checkpoints)
    return get_codec(name)
