"""The agent console: people, routing, the live websocket protocol, and the pages they use."""
