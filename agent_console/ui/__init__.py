"""The console's pages: plain HTML, CSS and JavaScript served by the app (no CDN, no build)."""
