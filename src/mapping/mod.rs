//! mapping (stub)
