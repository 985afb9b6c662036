"""Benchmarks of crochet-messaging: what users pay for (DynamoDB round trips, items) and wait for (latency).

``make bench`` (``python -m bench.run``) measures every operation in-process on moto at three data sizes;
``make bench-load`` (``python -m bench.load``) drives the local stack with real WebSocket clients. Both write
results under ``bench/`` and assert nothing: speed is measured here, never in tests.
"""
