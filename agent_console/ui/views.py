"""Serves the console and supervisor pages and their assets from the package, offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from core.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".wav": "audio/wav", ".svg": "image/svg+xml"}
# Pages may only load from this origin: no CDN, no inline script, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=TYPES[".html"],
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})


@router.get("/console")
async def console_page() -> FileResponse:
    return _page("console.html")


@router.get("/console/supervisor")
async def supervisor_page() -> FileResponse:
    return _page("supervisor.html")


@router.get("/console/assets/{name}")
async def asset(name: str) -> FileResponse:
    """Only files directly in static/ with a known type: no paths, no directory listing."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        raise NotFound("no such asset")
    return FileResponse(path, media_type=TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
