"""Adapters: the frameworks the pipeline (`streams.pipeline`) runs on, each in its own folder."""
