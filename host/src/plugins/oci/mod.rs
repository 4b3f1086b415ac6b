//! Plugins as OCI artifacts: their references, their manifest, pushing and pulling them, and
//! the cache of pulled components the registry loads plugins named by digest from.

pub mod artifact;
mod cache;
mod client;
mod reference;

pub use cache::{fetch, keep};
pub use client::{blocking, pull, push, Access, Pulled};
pub use reference::{PluginReference, SCHEME};
