//! The shared look of every figure and the machinery to write one.
//!
//! - Fonts: DejaVu Sans from the `dejavu` crate, registered with plotters' `ab_glyph` font
//!   table under [`FONT_FAMILY`], so text renders on a machine with no system fonts. The
//!   font license is kept in `LICENSES/dejavu.txt`.
//! - Text: [`caption_font`], [`title_font`], [`label_font`], [`tick_font`] and
//!   [`legend_font`], sized in pixels for figures around [`PANEL_SIZE`].
//! - Colours: [`series_color`] (the Okabe-Ito palette, distinguishable under the common
//!   colour-vision deficiencies), [`PULL_FILL`] and [`PUSH_FILL`] for the two sides of a
//!   zero line.
//! - Axes: [`ValueAxis`], a plotters coordinate that is linear or symmetric-log
//!   ([`YScale`]), and [`format_tick`] for tick labels.
//! - Output: a type implementing [`Figure`] is written by [`write_figure`] to a `.png` or
//!   `.svg` path, through a temporary file in the same directory that is renamed into place.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use tempfile::NamedTempFile;

use super::PlotError;

/// The font family name every figure uses; [`register_fonts`] binds it to DejaVu Sans.
pub const FONT_FAMILY: &str = "sans-serif";

/// Size in pixels of a single-panel figure; multi-panel figures tile this size.
pub const PANEL_SIZE: (u32, u32) = (1000, 700);

/// Smallest and largest accepted width or height of a figure, in pixels.
pub const SIZE_LIMITS: (u32, u32) = (200, 8000);

/// Line width of data series, in pixels.
pub const STROKE_WIDTH: u32 = 2;

/// Background of the region where a quantity pulls toward a target (above the zero line).
pub const PULL_FILL: RGBColor = RGBColor(232, 244, 234);

/// Background of the region where a quantity pushes away from a target (below the zero line).
pub const PUSH_FILL: RGBColor = RGBColor(250, 233, 230);

/// The Okabe-Ito palette without its yellow, which is hard to see on white.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// Returns the colour of the `index`-th series; colours repeat after seven series.
pub fn series_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Registers DejaVu Sans (regular, bold, oblique) as [`FONT_FAMILY`] with plotters.
///
/// Safe to call many times, because the registration happens once per process. Every
/// function that draws text must call it first, since plotters' `ab_glyph` backend has no
/// font until one is registered.
pub fn register_fonts() -> Result<(), PlotError> {
    // The stored error is the name of the face that failed to load.
    static REGISTERED: OnceLock<Result<(), &'static str>> = OnceLock::new();
    let result = REGISTERED.get_or_init(|| {
        let faces: [(FontStyle, &'static [u8], &'static str); 4] = [
            (FontStyle::Normal, dejavu::sans::regular(), "regular"),
            (FontStyle::Bold, dejavu::sans::bold(), "bold"),
            (FontStyle::Oblique, dejavu::sans::oblique(), "oblique"),
            (FontStyle::Italic, dejavu::sans::oblique(), "italic"),
        ];
        for (style, bytes, name) in faces {
            register_font(FONT_FAMILY, style, bytes).map_err(|_| name)?;
        }
        Ok(())
    });
    result.map_err(|style| PlotError::Font {
        family: FONT_FAMILY,
        style,
    })
}

/// Font of the caption over a whole figure.
pub fn caption_font() -> TextStyle<'static> {
    (FONT_FAMILY, 30).into_font().style(FontStyle::Bold).into()
}

/// Font of the title over one panel.
pub fn title_font() -> TextStyle<'static> {
    (FONT_FAMILY, 24).into_font().into()
}

/// Font of axis descriptions.
pub fn label_font() -> TextStyle<'static> {
    (FONT_FAMILY, 20).into_font().into()
}

/// Font of tick labels.
pub fn tick_font() -> TextStyle<'static> {
    (FONT_FAMILY, 17).into_font().into()
}

/// Font of legend entries and annotations.
pub fn legend_font() -> TextStyle<'static> {
    (FONT_FAMILY, 17).into_font().into()
}

/// Output format, chosen by the extension of the output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// Reads the format from a `.png` or `.svg` extension (any letter case).
    pub fn from_path(path: &Path) -> Result<ImageFormat, PlotError> {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Returns the extension with its leading dot.
    pub fn suffix(self) -> &'static str {
        match self {
            ImageFormat::Png => ".png",
            ImageFormat::Svg => ".svg",
        }
    }
}

/// Checks a figure size against [`SIZE_LIMITS`].
pub fn check_size(width: u32, height: u32) -> Result<(), PlotError> {
    let (min, max) = SIZE_LIMITS;
    let fits = |value: u32| (min..=max).contains(&value);
    if fits(width) && fits(height) {
        Ok(())
    } else {
        Err(PlotError::Size {
            width,
            height,
            min,
            max,
        })
    }
}

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the figure on `root`, which covers [`Figure::size`] and is still blank.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Draws `figure` and writes it to `path` as PNG or SVG, chosen by the extension.
///
/// The image goes to a temporary file in the directory of `path`, which is renamed onto
/// `path` only once it is complete. A reader never sees a partial file, and a failed run
/// leaves an earlier figure in place.
pub fn write_figure(path: &Path, figure: &impl Figure) -> Result<(), PlotError> {
    let format = ImageFormat::from_path(path)?;
    let (width, height) = figure.size();
    check_size(width, height)?;
    register_fonts()?;
    let write_error = |error: std::io::Error| PlotError::Write {
        path: path.to_path_buf(),
        error: without_temporary_path(error),
    };
    let directory = parent_directory(path);
    // The bitmap encoder picks the image format from the file name, so the temporary file
    // carries the same extension as the target.
    let temporary = temporary_output(&directory, format.suffix()).map_err(write_error)?;
    match format {
        ImageFormat::Png => {
            let backend = BitMapBackend::new(temporary.path(), (width, height));
            draw_and_present(backend.into_drawing_area(), figure)?;
        }
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let backend = SVGBackend::with_string(&mut text, (width, height));
                draw_and_present(backend.into_drawing_area(), figure)?;
            }
            std::fs::write(temporary.path(), text).map_err(write_error)?;
        }
    }
    temporary
        .persist(path)
        .map_err(|error| write_error(error.error))?;
    Ok(())
}

/// Creates a hidden temporary file in `directory`, ending in `suffix`, to be renamed onto an
/// output path once written.
///
/// On Unix the file is created with mode `0o666` less the process umask, the mode a plain
/// `File::create` would give, because `tempfile` defaults to `0o600` and the rename would
/// carry that owner-only mode over to the output.
pub fn temporary_output(directory: &Path, suffix: &str) -> std::io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".output-").suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(directory)
}

/// Drops the name of the hidden temporary file that `tempfile` appends to its errors
/// ("... at path .output-x1y2z3.png"), keeping the operating system's error.
pub fn without_temporary_path(error: std::io::Error) -> std::io::Error {
    // tempfile's wrapper type is private, so its Display form is the only handle on it.
    let text = error.to_string();
    match text.rsplit_once(" at path \"") {
        Some((cause, _)) => std::io::Error::new(error.kind(), cause.to_string()),
        None => error,
    }
}

/// Returns the directory of `path`, `.` for a bare file name.
pub fn parent_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn draw_and_present<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &impl Figure,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(drawing_error)?;
    figure.draw(&root)?;
    root.present().map_err(drawing_error)
}

/// Converts a plotters drawing error into a [`PlotError`].
pub fn drawing_error<E: std::error::Error + Send + Sync>(
    error: DrawingAreaErrorKind<E>,
) -> PlotError {
    PlotError::Drawing(error.to_string())
}

/// The mapping of values onto a [`ValueAxis`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum YScale {
    /// Position proportional to the value.
    Linear,
    /// Symmetric log: position proportional to `sign(y) log10(1 + |y| / threshold)`. Values
    /// with `|y|` well below `threshold` are spaced linearly, so the axis passes through
    /// zero and a sign change stays visible, while larger values are spaced by decade.
    SymmetricLog { threshold: f64 },
}

impl YScale {
    /// Ratio of the largest to the smallest typical magnitude above which a figure switches
    /// from a linear to a symmetric-log axis.
    pub const DECADES_FOR_LOG: f64 = 1e3;

    /// Most decades a symmetric-log axis shows below its largest value.
    pub const MAX_DECADES: i32 = 8;

    /// Fraction of the largest magnitude below which a stretch of a curve between two
    /// sign changes (or a sign change and an end) counts as hidden on a linear axis.
    pub const HIDDEN_FRACTION: f64 = 0.02;

    /// Chooses a scale for `curves`, each a list of y values in drawing order.
    ///
    /// The scale is symmetric log in two cases. Either the finite non-zero magnitudes span
    /// more than [`Self::DECADES_FOR_LOG`] between their 10th percentile and their maximum,
    /// or some stretch of a curve between sign changes stays below [`Self::HIDDEN_FRACTION`]
    /// of the maximum, so a linear axis would draw that sign change flat on the zero line.
    /// Otherwise it is linear.
    ///
    /// The symmetric-log threshold is the smaller of the 10th percentile and a tenth of the
    /// peak of the hidden stretch, rounded down to a power of ten. It lies at most
    /// [`Self::MAX_DECADES`] below the maximum.
    pub fn for_curves(curves: &[Vec<f64>]) -> YScale {
        let all: Vec<f64> = curves.iter().flatten().copied().collect();
        let Some(largest) = largest_magnitude(&all) else {
            return YScale::Linear;
        };
        let mut small = magnitude_percentile_if_wide(&all, largest).unwrap_or(f64::INFINITY);
        for curve in curves {
            if let Some(peak) = smallest_stretch_peak(curve)
                && peak < Self::HIDDEN_FRACTION * largest
            {
                small = small.min(peak / 10.0);
            }
        }
        Self::symmetric_log_below(small, largest)
    }

    /// Chooses a scale for values without curve order.
    ///
    /// The scale is symmetric log when the finite non-zero magnitudes span more than
    /// [`Self::DECADES_FOR_LOG`] between their 10th percentile and their maximum, and linear
    /// otherwise. The threshold is that percentile rounded down to a power of ten, at most
    /// [`Self::MAX_DECADES`] below the maximum.
    pub fn for_values(values: &[f64]) -> YScale {
        let Some(largest) = largest_magnitude(values) else {
            return YScale::Linear;
        };
        let small = magnitude_percentile_if_wide(values, largest).unwrap_or(f64::INFINITY);
        Self::symmetric_log_below(small, largest)
    }

    fn symmetric_log_below(small: f64, largest: f64) -> YScale {
        if !small.is_finite() {
            return YScale::Linear;
        }
        let top_decade = largest.log10().floor() as i32;
        let decade = (small.log10().floor() as i32).max(top_decade - Self::MAX_DECADES);
        YScale::SymmetricLog {
            threshold: 10f64.powi(decade),
        }
    }

    /// Maps a value to its position on the axis, in arbitrary linear units.
    pub fn transform(self, value: f64) -> f64 {
        match self {
            YScale::Linear => value,
            YScale::SymmetricLog { threshold } => {
                value.signum() * (value.abs() / threshold).ln_1p() / std::f64::consts::LN_10
            }
        }
    }

    /// Inverts [`YScale::transform`].
    pub fn inverse(self, position: f64) -> f64 {
        match self {
            YScale::Linear => position,
            YScale::SymmetricLog { threshold } => {
                position.signum() * threshold * (position.abs() * std::f64::consts::LN_10).exp_m1()
            }
        }
    }
}

/// A value axis over `range` with a [`YScale`], usable as a plotters coordinate.
#[derive(Debug, Clone)]
pub struct ValueAxis {
    range: Range<f64>,
    scale: YScale,
}

fn finite_magnitudes(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .map(|value| value.abs())
        .filter(|value| value.is_finite() && *value > 0.0)
        .collect()
}

fn largest_magnitude(values: &[f64]) -> Option<f64> {
    finite_magnitudes(values).into_iter().reduce(f64::max)
}

/// Returns the 10th percentile of the magnitudes when it lies more than
/// [`YScale::DECADES_FOR_LOG`] below `largest`.
fn magnitude_percentile_if_wide(values: &[f64], largest: f64) -> Option<f64> {
    let mut magnitudes = finite_magnitudes(values);
    magnitudes.sort_by(f64::total_cmp);
    let percentile = *magnitudes.get(magnitudes.len() / 10)?;
    (largest / percentile > YScale::DECADES_FOR_LOG).then_some(percentile)
}

/// Splits a curve where its sign changes and returns the smallest peak magnitude among the
/// pieces, or `None` when the sign never changes.
fn smallest_stretch_peak(curve: &[f64]) -> Option<f64> {
    let mut peaks = Vec::new();
    let mut peak = 0.0f64;
    let mut sign = 0.0;
    for &value in curve
        .iter()
        .filter(|value| value.is_finite() && **value != 0.0)
    {
        let value_sign = value.signum();
        if sign != 0.0 && value_sign != sign {
            peaks.push(peak);
            peak = 0.0;
        }
        sign = value_sign;
        peak = peak.max(value.abs());
    }
    if peaks.is_empty() {
        return None;
    }
    peaks.push(peak);
    peaks.into_iter().reduce(f64::min)
}

impl ValueAxis {
    /// Builds an axis that shows every value of `values` and zero, with 5% padding (in axis
    /// units) at both ends.
    pub fn covering(values: &[f64], scale: YScale) -> ValueAxis {
        let finite = values.iter().copied().filter(|value| value.is_finite());
        let (low, high) = finite.fold((0.0f64, 0.0f64), |(low, high), value| {
            (low.min(value), high.max(value))
        });
        let (mut low, mut high) = (scale.transform(low), scale.transform(high));
        if high - low <= f64::EPSILON {
            low -= 1.0;
            high += 1.0;
        }
        let padding = 0.05 * (high - low);
        ValueAxis {
            range: scale.inverse(low - padding)..scale.inverse(high + padding),
            scale,
        }
    }

    /// Returns the scale of this axis.
    pub fn scale(&self) -> YScale {
        self.scale
    }

    fn symmetric_log_ticks(&self, threshold: f64, max_points: usize) -> Vec<f64> {
        let mut decades = Vec::new();
        let largest = self.range.start.abs().max(self.range.end.abs());
        // The threshold itself sits only 0.3 decades from zero, too close for a label.
        let mut tick = 10.0 * threshold;
        while tick <= largest {
            decades.push(tick);
            tick *= 10.0;
        }
        let per_side = (max_points.saturating_sub(1) / 2).max(1);
        let stride = decades.len().div_ceil(per_side).max(1);
        let mut ticks = vec![0.0];
        for &decade in decades.iter().rev().step_by(stride) {
            for tick in [decade, -decade] {
                if self.range.contains(&tick) {
                    ticks.push(tick);
                }
            }
        }
        ticks.sort_by(f64::total_cmp);
        ticks
    }
}

impl Ranged for ValueAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let start = self.scale.transform(self.range.start);
        let end = self.scale.transform(self.range.end);
        let fraction = (self.scale.transform(*value) - start) / (end - start);
        let pixels = f64::from(limit.1 - limit.0) * fraction;
        // Clamp far outliers so the conversion to i32 cannot saturate into garbage.
        limit.0 + pixels.clamp(-1e6, 1e6).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match self.scale {
            YScale::Linear => {
                // Key points are multiples of a step computed in floating point, so the one
                // at zero can come out as a rounding residue such as -2.2e-16.
                let span = self.range.end - self.range.start;
                let mut ticks = RangedCoordf64::from(self.range.clone()).key_points(hint);
                for tick in &mut ticks {
                    if tick.abs() < 1e-9 * span {
                        *tick = 0.0;
                    }
                }
                ticks
            }
            YScale::SymmetricLog { threshold } => {
                self.symmetric_log_ticks(threshold, hint.max_num_points())
            }
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for ValueAxis {
    fn format(value: &f64) -> String {
        format_tick(*value)
    }
}

/// Formats a tick value briefly: `0`, `0.25`, `-12`, `1e-5`, `-3.2e4`.
pub fn format_tick(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs();
    if (1e-3..1e4).contains(&magnitude) {
        let text = format!("{value:.6}");
        return text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    let text = format!("{value:.3e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_log_round_trips() {
        let scale = YScale::SymmetricLog { threshold: 1e-6 };
        for value in [-0.7, -1e-9, 0.0, 3e-6, 0.5] {
            let back = scale.inverse(scale.transform(value));
            assert!(
                (back - value).abs() <= 1e-12 * value.abs().max(1e-6),
                "{value} -> {back}"
            );
        }
    }

    #[test]
    fn linear_for_narrow_magnitudes() {
        let values: Vec<f64> = (1..100).map(|i| f64::from(i) / 100.0).collect();
        assert_eq!(YScale::for_curves(&[values]), YScale::Linear);
    }

    #[test]
    fn symmetric_log_for_many_decades() {
        let values: Vec<f64> = (0..60).map(|i| -(10f64.powi(-i / 6))).collect();
        let YScale::SymmetricLog { threshold } = YScale::for_values(&values) else {
            panic!("expected a symmetric-log scale");
        };
        assert_eq!(threshold, 1e-8);
        assert_eq!(
            YScale::for_curves(std::slice::from_ref(&values)),
            YScale::for_values(&values)
        );
    }

    #[test]
    fn symmetric_log_for_hidden_sign_change() {
        let curve: Vec<f64> = (0..100)
            .map(|i| if i < 90 { -f64::from(i) / 100.0 } else { 1e-4 })
            .collect();
        let YScale::SymmetricLog { threshold } = YScale::for_curves(&[curve]) else {
            panic!("expected a symmetric-log scale");
        };
        assert_eq!(threshold, 1e-5);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(0.25), "0.25");
        assert_eq!(format_tick(-12.0), "-12");
        assert_eq!(format_tick(1e-5), "1e-5");
        assert_eq!(format_tick(-32000.0), "-3.2e4");
        assert_eq!(format_tick(0.30000000000000004), "0.3");
    }

    #[test]
    fn axis_covers_zero() {
        let axis = ValueAxis::covering(&[0.2, 0.9], YScale::Linear);
        assert!(axis.range().start < 0.0);
        assert!(axis.range().end > 0.9);
    }
}
