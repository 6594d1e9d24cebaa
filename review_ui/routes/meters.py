"""The meter page (history table + consumption chart) and the customer photos (whole, and the
counter cut out where OCR stored its box)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from core.models import Photo
from matching.history import HistoryPoint, find_meters, meter_history
from review_ui.chart import Chart, Period, build_chart
from review_ui.counter_view import counter_crop, geometry_of
from review_ui.meter_list import meter_list, reading_links
from review_ui.photos import PhotoUnavailable, prepare_photo
from review_ui.queries import CandidateView, latest_ocr, meter_candidate
from review_ui.web import Ctx, PageClerk, no_store, render

log = logging.getLogger(__name__)
router = APIRouter()


@dataclass(frozen=True)
class MeterPanel:
    meter: CandidateView
    history: list[HistoryPoint]  # oldest first
    chart: Chart | None


def meter_panel(session: Session, meter_id: int) -> MeterPanel | None:
    meter = meter_candidate(session, meter_id, [])
    if meter is None:
        return None
    history = list(meter_history(session, meter_id))
    return MeterPanel(meter=meter, history=history, chart=_chart(history, meter))


def _chart(history: list[HistoryPoint], meter: CandidateView) -> Chart | None:
    """Bars between consecutive accepted readings of the meter's first register."""
    accepted = [p for p in history if p.status == "accepted"]
    register = accepted[0].register if accepted else ""
    periods = []
    previous: HistoryPoint | None = None
    for point in (p for p in accepted if p.register == register):
        if previous is not None and point.per_day is not None:
            periods.append(Period(start=previous.read_on, end=point.read_on, per_day=point.per_day))
        previous = point
    return build_chart(periods, unit=meter.unit, places=1)


def find_meter_candidates(session: Session, query: str) -> list[CandidateView]:
    views = []
    for hit in find_meters(session, query, limit=10):
        view = meter_candidate(session, hit.meter_id, [])
        if view is not None:
            views.append(view)
    return views


@router.get("/meters")
def meters_page(
    request: Request, ctx: Ctx, clerk: PageClerk, q: str = Query(default="", max_length=60)
) -> Response:
    with ctx.sessions() as session:
        rows = meter_list(session, q.strip())
    return no_store(render(request, "meters.html", {"rows": rows, "query": q.strip()}))


@router.get("/meters/{meter_id}")
def meter_page(request: Request, meter_id: int, ctx: Ctx, clerk: PageClerk) -> Response:
    with ctx.sessions() as session:
        panel = meter_panel(session, meter_id)
        if panel is None:
            raise HTTPException(status_code=404, detail="meter not found")
        links = reading_links(session, [p.reading_id for p in panel.history])
    return no_store(render(request, "meter.html", {"panel": panel, "links": links}))


@router.get("/photos/{photo_id}")
def photo(photo_id: int, ctx: Ctx, clerk: PageClerk, thumb: bool = False) -> Response:
    with ctx.sessions() as session:
        row = session.get(Photo, photo_id)
        sha256 = row.sha256 if row is not None else None
    if sha256 is None or not ctx.blobs.exists(sha256):
        raise HTTPException(status_code=404, detail="photo not found")
    try:
        served = prepare_photo(
            ctx.blobs.get(sha256), max_pixels=ctx.settings.max_image_pixels, thumbnail=thumb
        )
    except PhotoUnavailable as exc:
        log.warning("photo %s cannot be shown: %s", photo_id, exc)
        raise HTTPException(status_code=415, detail="photo cannot be shown") from exc
    return _photo_response(served.data, served.content_type, f"photo-{photo_id}")


@router.get("/photos/{photo_id}/counter")
def counter(photo_id: int, ctx: Ctx, clerk: PageClerk) -> Response:
    """The counter of the photo's newest OCR result (the one the task page shows), level and
    upright; 404 when OCR stored no counter box."""
    with ctx.sessions() as session:
        row = session.get(Photo, photo_id)
        ocr = latest_ocr(row)
        geometry = geometry_of(ocr.details) if ocr is not None else None
        sha256 = row.sha256 if row is not None else None
    if geometry is None or sha256 is None or not ctx.blobs.exists(sha256):
        raise HTTPException(status_code=404, detail="no counter box for this photo")
    try:
        data = counter_crop(
            ctx.blobs.get(sha256), geometry, max_pixels=ctx.settings.max_image_pixels
        )
    except PhotoUnavailable as exc:
        log.warning("counter of photo %s cannot be shown: %s", photo_id, exc)
        raise HTTPException(status_code=415, detail="photo cannot be shown") from exc
    return _photo_response(data, "image/jpeg", f"counter-{photo_id}")


def _photo_response(data: bytes, content_type: str, name: str) -> Response:
    headers = {
        "Cache-Control": "no-store",  # customer photos stay out of browser caches
        "Content-Disposition": f'inline; filename="{name}"',
    }
    return Response(data, media_type=content_type, headers=headers)
