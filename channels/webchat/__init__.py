"""Web chat: a websocket per browser tab (`WS /channels/webchat/ws`), a session token that
survives reloads, and the one-script-tag widget (`/channels/webchat/widget.js`).

Messages go through the same intake as every channel (parser.py), replies come back through
the channel's OutboundSender (sender.py) and the per-process hub (hub.py). The frames are
documented in PROTOCOL.md."""

from channels.webchat.parser import CHANNEL, WebchatParser
from channels.webchat.sender import WebchatSender
from channels.webchat.service import WebchatChannel, register_sender, webchat_channel

__all__ = ["CHANNEL", "WebchatChannel", "WebchatParser", "WebchatSender", "register_sender",
           "webchat_channel"]
