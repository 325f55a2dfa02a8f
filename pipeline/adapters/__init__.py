"""Adapters behind the ports in :mod:`pipeline.ports`: ``local`` ones and ``aws`` ones."""
