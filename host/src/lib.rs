//! Portcullis: an OCI registry whose gate is programmable with WebAssembly components.
//!
//! The host serves the OCI Distribution API and stores content ([`api`], [`storage`]); every
//! decision about who may do what goes through the [`gate`].

pub mod api;
pub mod caches;
pub mod clock;
pub mod config;
pub mod errors;
pub mod fsutil;
pub mod gate;
pub mod logging;
pub mod metrics;
pub mod oci;
pub mod oidc;
pub mod plugin_tool;
pub mod plugins;
pub mod pool;
pub mod server;
pub mod sessions;
pub mod storage;
pub mod sync;
pub mod tokens;
pub mod zero_copy;
