"""One module per screen; each is thin: it shows core state and sends intents."""
