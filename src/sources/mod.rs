//! Sources: where input comes from. [`offline`] reads files, directories, archives and
//! firmware images for `banwatch scan`; [`live`] holds the feeds of `banwatch serve`. A source
//! yields observations (through the decoders) or files, and knows nothing about signatures,
//! verdicts or alerts.

#[cfg(feature = "live")]
pub mod audit;
#[cfg(feature = "live")]
pub mod live;
pub mod offline;
