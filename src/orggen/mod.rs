//! orggen (stub)
