//! zot-compatible configuration: schema, loading and validation.

pub mod auth;
mod duration;
mod load;
pub mod model;
pub mod plugins;
pub mod secrets;
pub mod sync;
mod validate;

pub use load::{from_text, from_value, parse_document, ConfigError};
pub use model::Config;
pub use validate::validate;

use std::path::Path;

/// Load `path` and check that it can be served.
pub fn load_and_validate(path: &Path) -> Result<Config, ConfigError> {
    let config = load::load(path)?;
    validate(&config)?;
    Ok(config)
}
