//! Figures of the analysis, drawn with plotters into PNG or SVG.
//!
//! [`style`] contains what every figure shares: the embedded DejaVu fonts, text sizes, colours,
//! the symmetric-log value axis and atomic writing of a [`style::Figure`] to a `.png` or
//! `.svg` path. [`curve`] draws the attraction curves of `analyze curve` and `analyze figure 3`.

pub mod curve;
pub mod style;
pub mod trace;

use std::path::PathBuf;

use thiserror::Error;

/// A figure that could not be drawn or written.
#[derive(Debug, Error)]
pub enum PlotError {
    #[error("unsupported figure format for {path:?}: the file name must end in .png or .svg")]
    UnsupportedFormat { path: PathBuf },

    #[error(
        "invalid figure size {width}x{height} pixels: width and height must each lie in \
         {min}..={max}"
    )]
    Size {
        width: u32,
        height: u32,
        min: u32,
        max: u32,
    },

    #[error(
        "failed to write figure {path:?}: {error}; check that the directory exists and is \
         writable"
    )]
    Write {
        path: PathBuf,
        // Not `source`: thiserror would make it the error's source as well, and an error
        // chain would then print the OS message twice.
        error: std::io::Error,
    },

    #[error("failed to draw the figure: {0}")]
    Drawing(String),

    #[error("failed to load the embedded DejaVu font for {family} ({style})")]
    Font {
        family: &'static str,
        style: &'static str,
    },
}
