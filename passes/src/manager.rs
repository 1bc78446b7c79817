//! The pass manager. (in progress)
