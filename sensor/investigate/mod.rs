//! Read-only tools over the ring and the logs: `info`, `carve`, `investigate`.
