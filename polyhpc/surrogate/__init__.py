"""Surrogate property models: pre-screening candidates and laptop-scale evaluation."""
