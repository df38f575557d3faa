"""What the customer means, in three tiers behind one port (base.NluEngine → NluResult):

1. keywords.py: the SMS short-code grammar (OUT, STAT, BAL, PAY, REG, NICK, AGENT, HELP, STOP…);
2. embedded.py: an in-process classifier trained at start-up from bot/rasa/data/nlu.yml;
3. rasa_client.py: a Rasa server, when RASA_URL is set, falling back to tier 2.

pipeline.Nlu puts them in that order; evaluate.py measures any of them on a labelled file.
"""

from bot.nlu.base import INTENTS, Entity, IntentScore, NluEngine, NluResult

__all__ = ["INTENTS", "Entity", "IntentScore", "NluEngine", "NluResult"]
