//! goofish simulator (not implemented yet).
