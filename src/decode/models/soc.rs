//! Camera-SoC model containers: RKNN, cvimodel, bmodel, MNN (stub).

use super::{ModelError, ModelInfo};

/// Cheap content test.
pub fn looks_like(_bytes: &[u8]) -> bool {
    false
}

/// Parse.
pub fn parse(_bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    Err(ModelError::Unsupported("not yet read".into()))
}
