"""The application: the Bot (wiring, the loop, control, kill switch), its runtime, reports; drivers beside it."""
