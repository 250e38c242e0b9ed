//! chatvault export
