//! [`Store`]: the single writer.
