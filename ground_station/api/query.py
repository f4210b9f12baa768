"""The query API: list and filter transfers, fetch quicklooks and masks, summarise by codec."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from ground_station.api.deps import ContextDep, ReadAccess
from ground_station.api.schemas import Summary, SummaryRow, TransferPage, transfer_view
from ground_station.api.transfers import TransferId
from ground_station.db import TransferRecord
from ground_station.store import MASK_NAME, QUICKLOOK_NAME
from ground_station.transfers import get_record
from shared.errors import NotFoundError
from shared.protocol.chunks import chunk_count
from shared.protocol.messages import TransferState
from shared.protocol.routes import MASK, QUICKLOOK, SUMMARY, TRANSFERS

router = APIRouter(tags=["query"], dependencies=[ReadAccess])


@router.get(TRANSFERS, response_model=TransferPage)
def list_transfers(
    context: ContextDep,
    task: str | None = None,
    codec: str | None = None,
    state: TransferState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> TransferPage:
    """Transfers, newest first, filtered by task, codec and state."""
    query = select(TransferRecord)
    for column, value in (
        (TransferRecord.task, task),
        (TransferRecord.codec, codec),
        (TransferRecord.state, state),
    ):
        if value is not None:
            query = query.where(column == value)
    with context.sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(TransferRecord.created_at.desc(), TransferRecord.transfer_id)
            .limit(limit)
            .offset(offset)
        ).all()
        items = []
        for record in rows:
            received, missing = context.service.received(record)
            count = chunk_count(record.total_bytes, record.chunk_bytes)
            items.append(transfer_view(record, count, received, missing))
    return TransferPage(items=items, total=total, limit=limit, offset=offset)


def _artefact(context: ContextDep, transfer_id: str, name: str, flag: str) -> FileResponse:
    with context.sessions() as session:
        record = get_record(session, transfer_id)
        present, state = bool(getattr(record, flag)), record.state
    path = context.store.artefact(transfer_id, name)
    if not present or not path.is_file():
        raise NotFoundError(
            f"transfer {transfer_id!r} has no {name} (state {state}); it exists once the "
            "transfer is processed"
            + (" with a segmenter for its task" if name == MASK_NAME else "")
        )
    return FileResponse(path, media_type="image/png")


@router.get(QUICKLOOK, response_class=FileResponse)
def get_quicklook(transfer_id: TransferId, context: ContextDep) -> FileResponse:
    """The decoded scene as a PNG (thermal: inferno colormap; Sentinel-2: true colour)."""
    return _artefact(context, transfer_id, QUICKLOOK_NAME, "has_quicklook")


@router.get(MASK, response_class=FileResponse)
def get_mask(transfer_id: TransferId, context: ContextDep) -> FileResponse:
    """The predicted segmentation mask as a PNG (white = fire, cloud or building)."""
    return _artefact(context, transfer_id, MASK_NAME, "has_mask")


@router.get(SUMMARY, response_model=Summary)
def summary(context: ContextDep) -> Summary:
    """Per task and codec: transfer count and the mean bpp, PSNR and F1 of processed ones."""
    processed = TransferRecord.state == "processed"

    query = (
        select(
            TransferRecord.task,
            TransferRecord.codec,
            func.count(),
            func.count().filter(processed),
            func.count().filter(TransferRecord.state == "failed"),
            func.avg(TransferRecord.bpp).filter(processed),
            func.avg(TransferRecord.psnr_db).filter(processed),
            func.avg(TransferRecord.f1_positive).filter(processed),
            func.avg(TransferRecord.f1_macro).filter(processed),
        )
        .group_by(TransferRecord.task, TransferRecord.codec)
        .order_by(TransferRecord.task, TransferRecord.codec)
    )
    with context.sessions() as session:
        rows = session.execute(query).all()
    groups = [
        SummaryRow(
            task=task,
            codec=codec,
            count=count,
            processed=done,
            failed=failed,
            mean_bpp=m_bpp,
            mean_psnr_db=m_psnr,
            mean_f1_positive=m_f1p,
            mean_f1_macro=m_f1m,
        )
        for task, codec, count, done, failed, m_bpp, m_psnr, m_f1p, m_f1m in rows
    ]
    return Summary(groups=groups)
