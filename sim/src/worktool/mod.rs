//! worktool simulator (not implemented yet).
