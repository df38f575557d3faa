from stormdesk.cli import app

app()
