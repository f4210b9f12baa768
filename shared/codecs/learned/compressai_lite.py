"""CompressAI without its point-cloud half: load only what the image codecs use.

``import compressai`` runs the package's ``__init__``, which imports its datasets, point-cloud
models and transform registry and with them ``torch_geometric`` and ``torch._dynamo``: 5-7 s
on the development VM, none of it used by an image codec (``python -X importtime -c "import
compressai"``). :func:`install` puts a finder on ``sys.meta_path`` that loads ``compressai``,
``compressai.registry`` and ``compressai.models`` with their own ``__init__`` code minus the
imports that pull those in (the package's datasets/transforms/zoo list, the transform registry,
the point-cloud models). ``from compressai.models import Cheng2020Attention``, the entropy
models and rANS work as before, and the rest of CompressAI stays importable by name
(``import compressai.datasets`` still loads it). Installing imports nothing; a CompressAI
already loaded in full is left as it is.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: package -> the imports (as written, relative or absolute) its ``__init__`` skips here.
SKIPPED: dict[str, tuple[str, ...]] = {
    "compressai": ("compressai",),  # from compressai import (datasets, ..., zoo)
    "compressai.registry": (".transforms",),  # torch_geometric's transform registry
    "compressai.models": (".pointcloud",),  # point-cloud models (torch_geometric)
}


class _TrimmedInit(importlib.abc.Loader):
    """Runs a package's ``__init__`` without the skipped imports."""

    def __init__(self, origin: str, skipped: tuple[str, ...]) -> None:
        self.origin = origin
        self.skipped = skipped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """The default module object."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Execute the trimmed ``__init__`` in the module's namespace."""
        tree = ast.parse(Path(self.origin).read_text(encoding="utf-8"), self.origin)
        tree.body = [node for node in tree.body if not self._skips(node)]
        exec(compile(tree, self.origin, "exec"), module.__dict__)  # noqa: S102  # the package's own code

    def _skips(self, node: ast.stmt) -> bool:
        if not isinstance(node, ast.ImportFrom):
            return False
        return "." * node.level + (node.module or "") in self.skipped


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the trimmed packages through the other finders, then swaps their loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The usual spec of a package in :data:`SKIPPED`, with the trimming loader."""
        if fullname not in SKIPPED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.origin is not None:
                spec.loader = _TrimmedInit(spec.origin, SKIPPED[fullname])
                return spec
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
