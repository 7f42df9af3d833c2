//! Lookups the service makes per message, by id and address.

use super::{Device, Site};

/// Positions in [`Config::devices`] and [`Config::sites`].
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    pub(super) devices: std::collections::HashMap<String, usize>,
    pub(super) sites: std::collections::HashMap<String, usize>,
    pub(super) addresses: std::collections::HashMap<std::net::IpAddr, usize>,
}

impl Index {
    pub(super) fn build(sites: &[Site], devices: &[Device]) -> Index {
        let mut ix = Index::default();
        for (i, s) in sites.iter().enumerate() {
            ix.sites.entry(s.id.clone()).or_insert(i);
        }
        for (i, d) in devices.iter().enumerate() {
            ix.devices.entry(d.id.clone()).or_insert(i);
            for a in d.addresses.iter().filter_map(|a| a.parse().ok()) {
                ix.addresses.entry(a).or_insert(i);
            }
        }
        ix
    }
}
