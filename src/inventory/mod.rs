//! inventory (stub)
