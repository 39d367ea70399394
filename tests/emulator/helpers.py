"""Emulator test helpers: request bodies shared by several emulator test modules."""

from __future__ import annotations

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Gets current weather for a location",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
