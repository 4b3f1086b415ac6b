//! A measured figure: every repetition's value and their median.

use crate::stats::median;
use serde::Serialize;

/// Samples of one figure and their median.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figure {
    /// The median of `samples` (null in JSON when there are none).
    pub median: f64,
    /// One value per repetition, in the order measured.
    pub samples: Vec<f64>,
}

impl Figure {
    /// Add a sample.
    pub fn push(&mut self, value: f64) {
        self.samples.push(value);
        self.median = median(&self.samples);
    }
}
