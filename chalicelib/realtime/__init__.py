"""Real-time delivery over the API Gateway WebSocket API: connections, rooms, presence, fan-out."""
