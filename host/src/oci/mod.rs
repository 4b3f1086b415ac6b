//! The OCI vocabulary: digests, names, media types and manifests. Pure functions, no I/O.

pub mod digest;
pub mod manifest;
pub mod media;
pub mod name;

pub use digest::{Algorithm, Digest, Hasher};
pub use name::{Reference, RepoName};
