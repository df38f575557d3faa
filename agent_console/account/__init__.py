"""The account panel beside the transcript, and the account actions an agent may take."""
