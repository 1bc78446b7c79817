//! Pipeline text. (in progress)
