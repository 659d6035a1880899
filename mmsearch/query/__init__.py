"""Querying: parse, plan, retrieve, rerank, fuse, explain; and evaluation of rankings."""
