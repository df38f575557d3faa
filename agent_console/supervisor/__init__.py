"""The supervisor view: queues, agents, live conversations, approvals, the storm switch."""
