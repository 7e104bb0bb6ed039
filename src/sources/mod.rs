//! sources (stub)
