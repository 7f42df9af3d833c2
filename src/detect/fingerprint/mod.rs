//! Model fingerprints: being written.

/// Options of the model classifier.
#[derive(Debug, Clone)]
pub struct FingerprintOptions {
    pub probe: bool,
    pub catalog: bool,
}

impl Default for FingerprintOptions {
    fn default() -> Self {
        FingerprintOptions {
            probe: true,
            catalog: true,
        }
    }
}

impl FingerprintOptions {
    pub fn with_probe(mut self, on: bool) -> Self {
        self.probe = on;
        self
    }
    pub fn with_catalog(mut self, on: bool) -> Self {
        self.catalog = on;
        self
    }
}
