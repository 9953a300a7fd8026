//! Attraction of sampled training records over epochs, drawn like Figure 1 of Gonzalez and
//! Miikkulainen, "Effective Regularization through Loss-Function Metalearning".
//!
//! A [`TracePanel`] shows one run. Each sampled record is a translucent point at its epoch,
//! moved sideways by a fixed per-record offset so that the points of one epoch do not hide
//! each other, and darker areas contain more records. A line gives the per-epoch median of
//! all records, and the zero line separates the shaded attraction and repulsion regions. A
//! [`TraceFigure`] puts the panels of several runs side by side.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use super::curve::loss_title;
use super::style::{
    self, Figure, PANEL_SIZE, PULL_FILL, PUSH_FILL, STROKE_WIDTH, ValueAxis, YScale, drawing_error,
    series_color,
};
use crate::loss::parse_loss;
use crate::trace::summary::sampling_key;
use crate::trace::{AttractionForm, RunTrace};

/// Description of the x axis, followed by the run's name.
pub const X_LABEL: &str = "epoch";

/// Opacity of one point; about ten overlapping points look solid.
const POINT_OPACITY: f64 = 0.22;

/// Radius of one point, in pixels.
const POINT_RADIUS: u32 = 2;

/// Width of the sideways spread of one epoch's points, in epochs.
const SPREAD: f64 = 0.7;

/// Maximum number of panels in one row.
const MAX_COLUMNS: usize = 4;

/// The points and medians of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct TracePanel {
    pub title: String,
    /// Name of the run (its log's file name without extension), shown under the x axis.
    pub run: String,
    pub form: AttractionForm,
    /// Sampled records as `(x, attraction)`, with `x` the epoch plus the sideways offset.
    pub points: Vec<(f64, f64)>,
    /// Per-epoch median over all records, as `(epoch, median)`.
    pub medians: Vec<(f64, f64)>,
    /// Fraction of the last epoch's records that are repelled, shown in the title.
    pub last_repelled: Option<f64>,
    /// First and last epoch.
    pub epochs: (u32, u32),
}

impl TracePanel {
    /// Builds the panel of `run` for the attraction in `form`.
    pub fn from_run(run: &RunTrace, form: AttractionForm) -> TracePanel {
        let points = run
            .samples
            .iter()
            .filter_map(|point| {
                let value = point.attraction.value(form);
                value
                    .is_finite()
                    .then(|| (f64::from(point.epoch) + spread_offset(point.line), value))
            })
            .collect();
        let medians = run
            .epochs
            .iter()
            .filter_map(|stats| Some((f64::from(stats.epoch), stats.form(form).p50?)))
            .collect();
        let first = run.epochs.first().map_or(0, |stats| stats.epoch);
        let last = run.epochs.last().map_or(first, |stats| stats.epoch);
        let loss = parse_loss(&run.loss)
            .map(|loss| loss_title(&loss))
            .unwrap_or_else(|_| run.loss.clone());
        let name = run
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let last_repelled = run.epochs.last().map(|stats| stats.form(form).repelled);
        let title = match last_repelled {
            Some(fraction) => format!("{loss}: {:.1}% repelled in epoch {last}", 100.0 * fraction),
            None => format!("{loss}: no records"),
        };
        TracePanel {
            title,
            run: name,
            form,
            points,
            medians,
            last_repelled,
            epochs: (first, last),
        }
    }

    fn values(&self) -> Vec<f64> {
        self.points.iter().map(|&(_, y)| y).collect()
    }

    /// Draws the panel on `area`.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let values = self.values();
        let scale = scatter_scale(&values);
        let axis = ValueAxis::covering(&values, scale);
        let y_range = plotters::coord::ranged1d::Ranged::range(&axis);
        let x_range = f64::from(self.epochs.0) - 0.5..f64::from(self.epochs.1) + 0.5;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, style::title_font())
            .margin(12)
            .x_label_area_size(62)
            .y_label_area_size(92)
            .build_cartesian_2d(x_range.clone(), axis)
            .map_err(drawing_error)?;

        let regions = [
            Rectangle::new(
                [(x_range.start, 0.0), (x_range.end, y_range.end)],
                PULL_FILL.filled(),
            ),
            Rectangle::new(
                [(x_range.start, y_range.start), (x_range.end, 0.0)],
                PUSH_FILL.filled(),
            ),
        ];
        chart.draw_series(regions).map_err(drawing_error)?;
        self.draw_mesh(&mut chart, scale)?;
        chart
            .draw_series(LineSeries::new(
                [(x_range.start, 0.0), (x_range.end, 0.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(drawing_error)?;
        self.draw_points(&mut chart)?;

        Ok(())
    }

    fn draw_mesh<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, ValueAxis>>,
        scale: YScale,
    ) -> Result<(), PlotError> {
        let y_label = match scale {
            YScale::Linear => format!("attraction ({})", form_label(self.form)),
            YScale::SymmetricLog { .. } => {
                format!("attraction ({}, symmetric log)", form_label(self.form))
            }
        };
        let y_formatter = |value: &f64| style::format_tick(*value);
        let x_formatter = |value: &f64| format!("{value:.0}");
        let epochs = (self.epochs.1 - self.epochs.0 + 1) as usize;
        chart
            .configure_mesh()
            .x_desc(format!("{X_LABEL} (run {})", self.run))
            .y_desc(y_label)
            .axis_desc_style(style::label_font())
            .label_style(style::tick_font())
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter)
            .x_labels(epochs.clamp(2, 11))
            .y_labels(12)
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(drawing_error)
    }

    fn draw_points<'a, DB: DrawingBackend + 'a>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, ValueAxis>>,
    ) -> Result<(), PlotError> {
        let color = series_color(0).mix(POINT_OPACITY).filled();
        let points = self
            .points
            .iter()
            .map(|&point| Circle::new(point, POINT_RADIUS, color));
        chart.draw_series(points).map_err(drawing_error)?;
        let median = series_color(1).stroke_width(STROKE_WIDTH);
        chart
            .draw_series(LineSeries::new(self.medians.clone(), median))
            .map_err(drawing_error)?;
        // A line through one point draws nothing, so a single epoch's median gets a mark.
        if let [point] = self.medians.as_slice() {
            let mark = Circle::new(*point, 3 * STROKE_WIDTH, series_color(1).filled());
            chart.draw_series([mark]).map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// Chooses the y scale of a scatter with [`YScale::for_curves`], given the values sorted as
/// one curve. The sign of that curve changes at most once. So the scale turns symmetric-log
/// when the magnitudes span many decades, or when the values of one sign are too small to
/// see next to those of the other sign.
fn scatter_scale(values: &[f64]) -> YScale {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    YScale::for_curves(&[sorted])
}

/// Returns a fixed sideways offset in `[-SPREAD / 2, SPREAD / 2)` for the record on `line`.
fn spread_offset(line: u64) -> f64 {
    let unit = (sampling_key(0x5EED, line) >> 11) as f64 / (1u64 << 53) as f64;
    SPREAD * (unit - 0.5)
}

fn form_label(form: AttractionForm) -> &'static str {
    match form {
        AttractionForm::Printed => "Eq. 17 as printed",
        AttractionForm::Exact => "first principles, equal non-targets",
        AttractionForm::Full => "first principles, full softmax",
    }
}

/// Caption of a trace figure, which also explains the marks.
pub const CAPTION: &str = "Attraction toward zero training error: sampled training records \
                           (points) and the per-epoch median of all records (line)";

/// The panels of one or more runs, side by side (at most four per row).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceFigure {
    pub caption: Option<String>,
    pub panels: Vec<TracePanel>,
}

impl TraceFigure {
    fn columns(&self) -> usize {
        self.panels.len().clamp(1, MAX_COLUMNS)
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns()).max(1)
    }
}

/// Height of one caption line, in pixels.
const CAPTION_LINE: u32 = 50;

/// Estimated mean width of a caption character, in pixels: plotters draws the caption font
/// at about 24 pixels, and DejaVu Sans averages about 0.55 of that per character.
const CAPTION_CHAR_WIDTH: f64 = 13.5;

impl TraceFigure {
    /// Returns the caption wrapped at spaces into lines that fit the figure's width, estimated
    /// with [`CAPTION_CHAR_WIDTH`]. A line of unusually wide letters may still run long.
    fn caption_lines(&self) -> Vec<String> {
        let Some(caption) = &self.caption else {
            return Vec::new();
        };
        let width = f64::from(PANEL_SIZE.0) * self.columns() as f64;
        let max_chars = ((width - 40.0) / CAPTION_CHAR_WIDTH).max(10.0) as usize;
        let mut lines: Vec<String> = Vec::new();
        for word in caption.split(' ') {
            match lines.last_mut() {
                Some(line) if line.chars().count() + 1 + word.chars().count() <= max_chars => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.to_string()),
            }
        }
        lines
    }
}

impl Figure for TraceFigure {
    fn size(&self) -> (u32, u32) {
        let caption = CAPTION_LINE * self.caption_lines().len() as u32;
        (
            PANEL_SIZE.0 * self.columns() as u32,
            PANEL_SIZE.1 * self.rows() as u32 + caption,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let lines = self.caption_lines();
        let area = match lines.as_slice() {
            [] => root.clone(),
            [line] => root
                .titled(line.as_str(), style::caption_font())
                .map_err(drawing_error)?,
            lines => {
                let height = CAPTION_LINE * lines.len() as u32;
                let (top, rest) = root.split_vertically(height);
                let center = (top.dim_in_pixel().0 / 2) as i32;
                let font = style::caption_font().pos(Pos::new(HPos::Center, VPos::Top));
                for (index, line) in lines.iter().enumerate() {
                    let y = (CAPTION_LINE as usize * index) as i32 + 10;
                    top.draw_text(line, &font, (center, y))
                        .map_err(drawing_error)?;
                }
                rest
            }
        };
        let cells = area.split_evenly((self.rows(), self.columns()));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            panel.draw(cell)?;
        }
        Ok(())
    }
}
