//! state (stub)
