"""The protocol's routes: create, upload a chunk, status, commit (DESIGN.md, protocol v1)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ValidationError

from ground_station.api.deps import ContextDep, ReadAccess, SignedChunk, SignedJson
from ground_station.api.schemas import TransferView, transfer_view
from ground_station.context import GroundContext
from ground_station.transfers import get_record
from shared.errors import ConfigurationError
from shared.protocol.chunks import HEADER_CHUNK_CRC32C, chunk_count
from shared.protocol.messages import ID_PATTERN, ChunkAck, CommitRequest, Receipt, TransferCreate
from shared.protocol.routes import CHUNK, COMMIT, TRANSFER, TRANSFERS

router = APIRouter(tags=["protocol"])
#: The one read of the protocol (a transfer's status and figures): receivers answer it for the
#: sender, the query API for its readers.
status_router = APIRouter(tags=["protocol"])


def _json_body(model: type[BaseModel]) -> dict[str, object]:
    """OpenAPI text for a body the signature dependency reads raw (so FastAPI cannot infer it)."""
    schema = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": True, "content": schema}}


_CHUNK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
TransferId = Annotated[str, Path(pattern=ID_PATTERN, description="the transfer id")]
Model = TypeVar("Model", bound=BaseModel)


def parse_body(model: type[Model], body: bytes) -> Model:
    """Validate a JSON body; a bad one is a 422 that names the fields at fault."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigurationError(f"invalid {model.__name__} body: {'; '.join(parts)}") from exc


def view_of(context: GroundContext, transfer_id: str) -> TransferView:
    """The full view of one transfer (status, missing ranges, figures)."""
    with context.sessions() as session:
        record = get_record(session, transfer_id)
        count = chunk_count(record.total_bytes, record.chunk_bytes)
        received, missing = context.service.received(record)
        return transfer_view(record, count, received, missing)


@router.post(
    TRANSFERS,
    response_model=TransferView,
    status_code=201,
    responses={200: {"model": TransferView, "description": "already exists (idempotent)"}},
    openapi_extra=_json_body(TransferCreate),
)
def create_transfer(context: ContextDep, body: SignedJson, response: Response) -> TransferView:
    """Create a transfer, or return the identical existing one with the chunks it holds."""
    announcement = parse_body(TransferCreate, body)
    transfer_id, created = context.service.create(announcement)
    response.status_code = 201 if created else 200
    return view_of(context, transfer_id)


@router.put(CHUNK, response_model=ChunkAck, openapi_extra=_CHUNK_BODY)
def put_chunk(
    transfer_id: TransferId,
    index: int,
    context: ContextDep,
    body: SignedChunk,
    crc32c: Annotated[str | None, Header(alias=HEADER_CHUNK_CRC32C)] = None,
) -> ChunkAck:
    """Store one chunk after checking its CRC32C; ``duplicate`` when it is already there."""
    return context.service.put_chunk(transfer_id, index, body, crc32c)


@status_router.get(TRANSFER, response_model=TransferView, dependencies=[ReadAccess])
def get_transfer(transfer_id: TransferId, context: ContextDep) -> TransferView:
    """State, missing chunk ranges (the sender's NAK list), receipt and all figures."""
    return view_of(context, transfer_id)


@router.post(COMMIT, response_model=Receipt, openapi_extra=_json_body(CommitRequest))
def commit_transfer(transfer_id: TransferId, context: ContextDep, body: SignedJson) -> Receipt:
    """Verify and durably store the container; the receipt is custody."""
    return context.service.commit(transfer_id, parse_body(CommitRequest, body))
