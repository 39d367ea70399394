"""Pure protocol codecs: request bodies out, typed events in. No IO, no httpx."""
