//! chatvault search
