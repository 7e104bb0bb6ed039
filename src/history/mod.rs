//! history (stub)
