//! The filesystem implementations of the stores: blobs and indexes in one OCI image layout per
//! repository under the root directory, as zot keeps them.

mod blobs;
mod catalog;
mod group_sync;
mod index;
mod journal;
pub mod sweep;

pub use blobs::FsBlobs;
pub use index::FsIndex;
