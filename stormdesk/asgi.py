"""ASGI entry point for uvicorn (`stormdesk.asgi:app`)."""

from stormdesk.app import create_app

app = create_app()
