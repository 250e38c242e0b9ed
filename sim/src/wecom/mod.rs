//! wecom simulator (not implemented yet).
