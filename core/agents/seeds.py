"""Stock canned responses a new install starts with; operators edit them in the console."""

from __future__ import annotations

# Placeholders: {customer_name} {agent_name} {utility_name} {utility_phone} {account_number}
# {balance} {due_date} {etr}. Unknown ones are left as written, so a typo shows, never crashes.
CANNED_RESPONSES: list[dict[str, str | None]] = [
    {"skill": None, "shortcut": "hi", "title": "Greeting", "language": "en",
     "body": "Hi {customer_name}, this is {agent_name} with {utility_name}. "
             "I have the notes from our assistant. How can I help?"},
    {"skill": None, "shortcut": "hola", "title": "Saludo", "language": "es",
     "body": "Hola {customer_name}, soy {agent_name} de {utility_name}. ¿En qué le puedo ayudar?"},
    {"skill": None, "shortcut": "bye", "title": "Closing", "language": "en",
     "body": "Thanks for contacting {utility_name}, {customer_name}. "
             "If you need anything else, just text us back."},
    {"skill": "billing", "shortcut": "bal", "title": "Balance", "language": "en",
     "body": "Your current balance on account {account_number} is {balance}, due {due_date}."},
    {"skill": "billing", "shortcut": "adj", "title": "Adjustment posted", "language": "en",
     "body": "I've applied a credit to account {account_number}. It will show on your next bill."},
    {"skill": "collections", "shortcut": "plan", "title": "Arrangement offered", "language": "en",
     "body": "I can set up a payment arrangement on account {account_number} so your service "
             "stays on. Your balance is {balance}."},
    {"skill": "outage", "shortcut": "etr", "title": "Outage ETR", "language": "en",
     "body": "Crews are working on the outage at your address. "
             "The current estimated restoration time is {etr}."},
    {"skill": "emergency", "shortcut": "safe", "title": "Safety first", "language": "en",
     "body": "Please stay at least 35 feet away from any downed line and call 911 if anyone "
             "is in danger. Our crew has been dispatched."},
    {"skill": "commercial", "shortcut": "dep", "title": "Commercial deposit", "language": "en",
     "body": "New commercial accounts need a deposit. For account {account_number} I'll "
             "explain the amount and how it is refunded."},
]
