//! The host's parsers of untrusted input, compiled from its own sources (the modules are pure:
//! no I/O, no state, nothing from the rest of the crate), so that fuzzing them does not build
//! the whole registry.

#![allow(dead_code, missing_docs)]

/// Digests, names, references, media types, manifests.
#[path = "../../host/src/oci/mod.rs"]
pub mod oci;

/// The configuration file.
#[path = "../../host/src/config/mod.rs"]
pub mod config;

/// `Range` and `Content-Range`.
#[path = "../../host/src/api/headers.rs"]
pub mod headers;

/// `Authorization`.
#[path = "../../host/src/gate/authorization.rs"]
pub mod authorization;
