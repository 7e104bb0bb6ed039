//! apply (stub)
