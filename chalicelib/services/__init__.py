"""Use cases, one function per user intention, in the seed's vocabulary (snake_case)."""
