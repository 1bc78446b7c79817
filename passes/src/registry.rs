//! The pass registry: name -> constructor. (in progress)
