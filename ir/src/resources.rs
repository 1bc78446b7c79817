//! Named resources: tensor data kept outside the text (in progress).

/// The resources of a module, by name.
#[derive(Debug, Clone, Default)]
pub struct Resources {}
