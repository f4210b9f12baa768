"""A typed client of the satellite's scene API, for operators' scripts, the CLI and the demo.

    with SatelliteClient.connect("http://127.0.0.1:8000", token=UPLOADER_TOKEN) as satellite:
        accepted = satellite.upload(raster, SceneRequest(task="fire", bpp=4.0), mask=truth)
        view = satellite.wait_final([accepted.scene_id], timeout_s=60)[accepted.scene_id]

The token (``eodl satellite token`` makes one) goes in the ``Authorization: Bearer`` header
of every request. Rasters go as ``.npy`` bytes (arrays) or as files (paths: ``.npy`` or
GeoTIFF). A refusal (401 and 403 included) raises
:class:`SceneRefused` with the service's status and reason; an unreachable service raises
:class:`shared.errors.LinkError`. Answers are the models of :mod:`shared.protocol.scenes`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import numpy as np

from shared.errors import LinkError
from shared.protocol.routes import SCENE, SCENES
from shared.protocol.scenes import (
    BAND_FILES_FIELD,
    MASK_FIELD,
    RASTER_FIELD,
    SceneAccepted,
    SceneList,
    SceneRequest,
    SceneView,
)
from shared.protocol.tokens import SCHEME

#: States a scene does not leave.
FINAL_STATES = ("delivered", "failed")
Raster = np.ndarray | Path


class SceneRefused(LinkError):
    """The satellite answered an upload or a query with an error status."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"refused with {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


class SatelliteClient:
    """The satellite node's scene API over an ``httpx.Client`` (whose base URL is the node)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    @classmethod
    @contextmanager
    def connect(
        cls, base_url: str, token: str | None = None, timeout_s: float = 120.0
    ) -> Iterator[SatelliteClient]:
        """A client with its own connection pool, closed on exit; ``token`` authenticates it."""
        timeout = httpx.Timeout(timeout_s, connect=5.0)
        headers = {"Authorization": f"{SCHEME} {token}"} if token else {}
        with httpx.Client(base_url=base_url, timeout=timeout, headers=headers) as http:
            yield cls(http)

    def upload(
        self,
        raster: Raster,
        request: SceneRequest,
        *,
        mask: Raster | None = None,
        name: str = "scene.npy",
        band_files: list[Path] | None = None,
    ) -> SceneAccepted:
        """Upload one scene; it is stored durably when this returns.

        Shape:
            raster: (C, H, W) or (H, W) array, or a path; mask: (H, W) 0/1 array, or a path.
            band_files: more single-band GeoTIFFs: with ``raster``, one band set.

        Raises:
            SceneRefused: the satellite refused the scene (the reason says why).
            LinkError: the satellite cannot be reached.
        """
        with ExitStack() as files:
            parts = [(RASTER_FIELD, self._part(raster, name, files))]
            if mask is not None:
                parts.append((MASK_FIELD, self._part(mask, "mask.npy", files)))
            for path in band_files or []:
                parts.append((BAND_FILES_FIELD, self._part(path, path.name, files)))
            response = self._send("POST", SCENES, data=request.form(), files=parts)
        return SceneAccepted.model_validate(self._ok(response, 202))

    def scene(self, scene_id: str) -> SceneView:
        """One scene's state and figures."""
        response = self._send("GET", SCENE.format(scene_id=scene_id))
        return SceneView.model_validate(self._ok(response, 200))

    def scenes(self, state: str | None = None, limit: int = 1000) -> SceneList:
        """Scenes onboard, newest first (only those in ``state`` when given)."""
        params: dict[str, Any] = {"limit": limit} | ({"state": state} if state else {})
        response = self._send("GET", SCENES, params=params)
        return SceneList.model_validate(self._ok(response, 200))

    def wait_final(
        self, scene_ids: list[str], timeout_s: float, every_s: float = 0.5
    ) -> dict[str, SceneView]:
        """The scenes that reached a final state (delivered or failed) within ``timeout_s``."""
        deadline, final = time.monotonic() + timeout_s, {}
        while True:
            for scene_id in scene_ids:
                if scene_id not in final:
                    view = self.scene(scene_id)
                    if view.state in FINAL_STATES:
                        final[scene_id] = view
            if len(final) == len(scene_ids) or time.monotonic() >= deadline:
                return final
            time.sleep(every_s)

    @staticmethod
    def _part(raster: Raster, name: str, files: ExitStack) -> tuple[str, bytes | BinaryIO]:
        if isinstance(raster, Path):
            return raster.name, files.enter_context(raster.open("rb"))
        return name, _npy(raster)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LinkError(
                f"cannot reach the satellite at {self.http.base_url} ({exc}); is "
                "`eodl satellite serve` running there?"
            ) from exc

    @staticmethod
    def _ok(response: httpx.Response, status_code: int) -> Any:
        if response.status_code != status_code:
            raise SceneRefused(response.status_code, _detail(response))
        return response.json()
