//! plan (stub)
