"""The discovery campaign: generate, evaluate, feed back, retrain (Parsl-driven)."""
