//! Attraction curves over epsilon, drawn like Figure 3 of Gonzalez and Miikkulainen,
//! "Effective Regularization through Loss-Function Metalearning".
//!
//! A [`CurvePanel`] contains the curves of one loss: one line per number of classes `n` and
//! form (first-principles solid, Eq. 17 as printed dashed), the zero line with the
//! attraction region above it and the repulsion region below it shaded, and a marker at
//! every sign change. A [`CurveFigure`] lays one or more panels out in a grid.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use super::style::{
    self, Figure, PULL_FILL, PUSH_FILL, STROKE_WIDTH, ValueAxis, YScale, drawing_error,
    series_color,
};
use crate::attraction::Form;
use crate::curve::{self, CurveError, Effect};
use crate::loss::Loss;

/// Description of the x axis.
pub const X_LABEL: &str = "ε: deviation from perfect memorization (target probability 1 − ε)";

/// Description of the y axis.
pub const Y_LABEL: &str = "attraction toward zero training error";

/// Length and gap of the dashes of printed-form curves, in pixels.
const DASH: (u32, u32) = (9, 6);

/// Width of one legend column and height of one legend line, in pixels.
const LEGEND_CELL: (u32, u32) = (280, 24);

/// Length of the line sample in front of a legend entry, in pixels.
const LEGEND_SAMPLE: i32 = 34;

/// Maximum length, in characters, of a loss spec in a title before it is shortened.
const MAX_TITLE_SPEC: usize = 60;

/// One line of a panel: the attraction of one form for one `n`, as `(epsilon, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveSeries {
    pub n: usize,
    pub form: Form,
    pub points: Vec<(f64, f64)>,
}

/// A sign change of one drawn curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignMarker {
    pub n: usize,
    pub form: Form,
    pub epsilon: f64,
    /// Whether the curve goes from repulsion to attraction as epsilon grows.
    pub rising: bool,
}

/// The curves of one loss.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePanel {
    pub title: String,
    /// The numbers of classes drawn, in legend order; each has its own colour.
    pub class_counts: Vec<usize>,
    pub series: Vec<CurveSeries>,
    pub markers: Vec<SignMarker>,
}

impl CurvePanel {
    /// Evaluates `loss` at every `epsilon` for every `n` and form, and finds the sign
    /// changes of each curve with [`curve::analyze_signs`].
    pub fn for_loss(
        loss: &Loss,
        title: String,
        class_counts: &[usize],
        forms: &[Form],
        epsilons: &[f64],
    ) -> Result<CurvePanel, CurveError> {
        let rows = curve::evaluate_all(loss, class_counts, epsilons)?;
        let mut series = Vec::new();
        let mut markers = Vec::new();
        for &n in class_counts {
            for &form in forms {
                let points = rows
                    .iter()
                    .filter(|row| row.n == n)
                    .map(|row| (row.epsilon, row.attraction(form)))
                    .collect();
                series.push(CurveSeries { n, form, points });
                let analysis = curve::analyze_signs(loss, form, n)?;
                for (index, root) in analysis.roots.iter().enumerate() {
                    let before = analysis.intervals.get(index);
                    markers.push(SignMarker {
                        n,
                        form,
                        epsilon: root.epsilon,
                        rising: before.is_none_or(|interval| interval.effect == Effect::Push),
                    });
                }
            }
        }
        Ok(CurvePanel {
            title,
            class_counts: class_counts.to_vec(),
            series,
            markers,
        })
    }

    fn color_of(&self, n: usize) -> RGBColor {
        let index = self.class_counts.iter().position(|&m| m == n).unwrap_or(0);
        series_color(index)
    }

    fn values(&self) -> Vec<f64> {
        self.curves().concat()
    }

    /// Draws the panel on `area`: the chart on top and the legend in a strip below it.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (width, height) = area.dim_in_pixel();
        let layout = LegendLayout::new(self.class_counts.len(), self.forms().len(), width);
        let chart_height = height.saturating_sub(layout.height()).max(height / 2);
        let (chart_area, legend_area) = area.split_vertically(chart_height);
        self.draw_chart(&chart_area)?;
        self.draw_legend(&legend_area, &layout)
    }

    fn forms(&self) -> Vec<Form> {
        let mut forms = Vec::new();
        for series in &self.series {
            if !forms.contains(&series.form) {
                forms.push(series.form);
            }
        }
        forms
    }

    fn curves(&self) -> Vec<Vec<f64>> {
        self.series
            .iter()
            .map(|series| series.points.iter().map(|&(_, y)| y).collect())
            .collect()
    }

    fn draw_chart<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let scale = YScale::for_curves(&self.curves());
        let axis = ValueAxis::covering(&self.values(), scale);
        let y_range = plotters::coord::ranged1d::Ranged::range(&axis);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, style::title_font())
            .margin(12)
            .x_label_area_size(62)
            .y_label_area_size(92)
            .build_cartesian_2d(0.0..1.0, axis)
            .map_err(drawing_error)?;

        let regions = [
            Rectangle::new([(0.0, 0.0), (1.0, y_range.end)], PULL_FILL.filled()),
            Rectangle::new([(0.0, y_range.start), (1.0, 0.0)], PUSH_FILL.filled()),
        ];
        chart.draw_series(regions).map_err(drawing_error)?;

        let y_label = match scale {
            YScale::Linear => Y_LABEL.to_string(),
            YScale::SymmetricLog { .. } => format!("{Y_LABEL} (symmetric log)"),
        };
        let y_formatter = |value: &f64| style::format_tick(*value);
        chart
            .configure_mesh()
            .x_desc(X_LABEL)
            .y_desc(y_label)
            .axis_desc_style(style::label_font())
            .label_style(style::tick_font())
            .y_label_formatter(&y_formatter)
            .x_labels(11)
            .y_labels(15)
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(drawing_error)?;

        self.draw_region_labels(&mut chart, y_range)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 0.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(drawing_error)?;
        self.draw_series(&mut chart)?;
        self.draw_markers(&mut chart)
    }

    /// Draws one legend column per `n`, one line per form, centred in `area`.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        layout: &LegendLayout,
    ) -> Result<(), PlotError> {
        let (width, _) = area.dim_in_pixel();
        let left = (width as i32 - layout.width() as i32).max(0) / 2;
        let forms = self.forms();
        let font = style::legend_font().pos(Pos::new(HPos::Left, VPos::Center));
        for (group, &n) in self.class_counts.iter().enumerate() {
            let color = self.color_of(n);
            let line = color.stroke_width(STROKE_WIDTH);
            let (column, row) = (group % layout.columns, group / layout.columns);
            for (offset, &form) in forms.iter().enumerate() {
                let x = left + (column as u32 * LEGEND_CELL.0) as i32;
                let line_index = (row * forms.len() + offset) as u32;
                let y = (LEGEND_PADDING + line_index * LEGEND_CELL.1 + LEGEND_CELL.1 / 2) as i32;
                let ends = vec![(x, y), (x + LEGEND_SAMPLE, y)];
                let sample = match form {
                    Form::Exact => PathElement::new(ends, line).into_dyn(),
                    Form::Printed => DashedPathElement::new(ends, 6, 4, line).into_dyn(),
                };
                area.draw(&sample).map_err(drawing_error)?;
                let label = format!("n = {n}, {}", form_label(form));
                area.draw(&Text::new(label, (x + LEGEND_SAMPLE + 8, y), font.clone()))
                    .map_err(drawing_error)?;
            }
        }
        Ok(())
    }

    fn draw_region_labels<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, ValueAxis>>,
        y_range: std::ops::Range<f64>,
    ) -> Result<(), PlotError> {
        let top = Pos::new(HPos::Left, VPos::Top);
        let bottom = Pos::new(HPos::Left, VPos::Bottom);
        let pull = EmptyElement::at((0.0, y_range.end))
            + Text::new(
                "attraction: pulls samples toward their labels",
                (10, 8),
                style::legend_font().pos(top),
            );
        let push = EmptyElement::at((0.0, y_range.start))
            + Text::new(
                "repulsion: pushes samples away from their labels",
                (10, -8),
                style::legend_font().pos(bottom),
            );
        // A region too thin for its label (the repulsion side of a loss that never
        // repels) stays unlabelled rather than clipping the text.
        let pixel_y = |y: f64| chart.backend_coord(&(0.0, y)).1;
        let zero = pixel_y(0.0);
        let fits = |edge: f64| (pixel_y(edge) - zero).abs() >= MIN_REGION_LABEL_HEIGHT;
        let area = chart.plotting_area();
        if fits(y_range.end) {
            area.draw(&pull).map_err(drawing_error)?;
        }
        if fits(y_range.start) {
            area.draw(&push).map_err(drawing_error)?;
        }
        Ok(())
    }

    fn draw_series<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, ValueAxis>>,
    ) -> Result<(), PlotError> {
        for series in &self.series {
            let color = self.color_of(series.n);
            let line = color.stroke_width(STROKE_WIDTH);
            let points = series.points.clone();
            match series.form {
                Form::Exact => chart.draw_series(LineSeries::new(points, line)),
                Form::Printed => {
                    chart.draw_series(DashedLineSeries::new(points, DASH.0, DASH.1, line))
                }
            }
            .map_err(drawing_error)?;
        }
        Ok(())
    }

    fn draw_markers<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, ValueAxis>>,
    ) -> Result<(), PlotError> {
        let mut markers = self.markers.clone();
        markers.sort_by(|a, b| a.epsilon.total_cmp(&b.epsilon));
        let mut placed: Vec<LabelBox> = Vec::new();
        for marker in &markers {
            let color = self.color_of(marker.n);
            let dot = match marker.form {
                Form::Exact => Circle::new((0, 0), 6, color.filled()),
                Form::Printed => Circle::new((0, 0), 7, color.stroke_width(2)),
            };
            let anchor = (marker.epsilon, 0.0);
            chart
                .plotting_area()
                .draw(&(EmptyElement::at(anchor) + dot))
                .map_err(drawing_error)?;
            let Some(text) = self.marker_label(marker) else {
                continue;
            };

            // The label goes on the side of the zero line that the curve leaves empty: left
            // of a rising sign change the curve is below zero, right of it above. Exact roots
            // are labelled on the left, printed roots on the right, and a label moves away
            // from the zero line until it clears the labels already drawn.
            let pixel = chart.backend_coord(&anchor);
            let width = (text.chars().count() as f64 * LABEL_CHAR_WIDTH).ceil() as i32;
            let (x_pixels, _) = chart.plotting_area().get_pixel_range();
            let preferred_left = marker.form == Form::Exact;
            // Near an edge of the plot, a label switches sides instead of being clipped.
            let left = if preferred_left {
                pixel.0 - 8 - width >= x_pixels.start
            } else {
                pixel.0 + 8 + width > x_pixels.end
            };
            let above = marker.rising == left;
            let mut offset = (0, 0);
            let mut bounds = LabelBox::default();
            for level in 0..LABEL_LEVELS {
                let dy = 8 + level * LEGEND_CELL.1 as i32;
                offset = (if left { -8 } else { 8 }, if above { -dy } else { dy });
                bounds = LabelBox::new(pixel, offset, width, left, above);
                if placed.iter().all(|other| !other.overlaps(&bounds)) {
                    break;
                }
            }
            placed.push(bounds);
            let position = Pos::new(
                if left { HPos::Right } else { HPos::Left },
                if above { VPos::Bottom } else { VPos::Top },
            );
            let font = style::legend_font().pos(position).color(&color);
            let label = Text::new(text, offset, font);
            chart
                .plotting_area()
                .draw(&(EmptyElement::at(anchor) + label))
                .map_err(drawing_error)?;
        }
        Ok(())
    }

    /// Text next to a sign-change marker, or `None` for a printed-form root that coincides
    /// with the exact root of the same `n` (as for `n = 2`, where the forms agree).
    fn marker_label(&self, marker: &SignMarker) -> Option<String> {
        let value = curve::format_epsilon(marker.epsilon);
        let twin = |form: Form| {
            self.markers.iter().any(|other| {
                other.n == marker.n
                    && other.form == form
                    && (other.epsilon - marker.epsilon).abs() < COINCIDENT_ROOTS
            })
        };
        match marker.form {
            Form::Printed if twin(Form::Exact) => None,
            Form::Printed => Some(format!("ε = {value} (Eq. 17)")),
            Form::Exact if twin(Form::Printed) => Some(format!("ε = {value} (both forms)")),
            Form::Exact => Some(format!("ε = {value}")),
        }
    }
}

/// Smallest height of a shaded region, in pixels, that gets a text label.
const MIN_REGION_LABEL_HEIGHT: i32 = 40;

/// Distance in epsilon below which an exact and a printed root are drawn as one.
const COINCIDENT_ROOTS: f64 = 1e-9;

/// Estimated advance of one character of [`style::legend_font`], in pixels.
const LABEL_CHAR_WIDTH: f64 = 9.5;

/// Most rows a sign-change label moves away from the zero line to avoid another.
const LABEL_LEVELS: i32 = 6;

/// Pixel bounds of a label, for overlap checks.
#[derive(Debug, Clone, Copy, Default)]
struct LabelBox {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl LabelBox {
    fn new(pixel: (i32, i32), offset: (i32, i32), width: i32, left: bool, above: bool) -> Self {
        let x = pixel.0 + offset.0;
        let y = pixel.1 + offset.1;
        let height = LEGEND_CELL.1 as i32;
        let (left_edge, right_edge) = if left { (x - width, x) } else { (x, x + width) };
        let (top, bottom) = if above {
            (y - height, y)
        } else {
            (y, y + height)
        };
        LabelBox {
            left: left_edge,
            top,
            right: right_edge,
            bottom,
        }
    }

    fn overlaps(&self, other: &LabelBox) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }
}

/// Top and bottom padding of the legend strip, in pixels.
const LEGEND_PADDING: u32 = 6;

/// Placement of legend entries: one column per `n`, wrapped into rows of columns.
struct LegendLayout {
    columns: usize,
    group_rows: usize,
    lines_per_group: usize,
}

impl LegendLayout {
    fn new(groups: usize, lines_per_group: usize, width: u32) -> LegendLayout {
        let fitting = (width.saturating_sub(40) / LEGEND_CELL.0).max(1) as usize;
        let columns = groups.clamp(1, fitting);
        LegendLayout {
            columns,
            group_rows: groups.div_ceil(columns),
            lines_per_group,
        }
    }

    fn width(&self) -> u32 {
        self.columns as u32 * LEGEND_CELL.0
    }

    fn height(&self) -> u32 {
        (self.group_rows * self.lines_per_group) as u32 * LEGEND_CELL.1 + 2 * LEGEND_PADDING
    }
}

fn form_label(form: Form) -> &'static str {
    match form {
        Form::Exact => "first principles",
        Form::Printed => "Eq. 17 as printed",
    }
}

/// Returns a loss name for titles: `Baikal`, `cross-entropy`, the spec for parametrised losses.
pub fn loss_title(loss: &Loss) -> String {
    match loss {
        Loss::MeanSquaredError => "mean squared error".to_string(),
        Loss::CrossEntropy => "cross-entropy".to_string(),
        Loss::Baikal => "Baikal".to_string(),
        Loss::CoefficientForm {
            name: Some("taylorglo-cifar10"),
            ..
        } => "TaylorGLO (CIFAR-10, AllCNN-C)".to_string(),
        other => {
            let spec = short_spec(other);
            if spec.chars().count() <= MAX_TITLE_SPEC {
                spec
            } else {
                let head: String = spec.chars().take(MAX_TITLE_SPEC - 1).collect();
                format!("{head}…")
            }
        }
    }
}

/// Writes a `taylorglo:` or `coeffs:` spec with each number as its nearest `f64` in
/// [`crate::curve::format_number`] form, so that `1e-320` does not fill the title with zeros.
/// The exact spec may differ in digits beyond f64 precision.
fn short_spec(loss: &Loss) -> String {
    let join = |values: &[crate::exact::Rational]| {
        values
            .iter()
            .map(|value| crate::curve::format_number(crate::exact::to_f64(value)))
            .collect::<Vec<_>>()
            .join(",")
    };
    match loss {
        Loss::TaylorGlo { lambda } => format!("taylorglo:{}", join(lambda)),
        Loss::CoefficientForm {
            coefficients,
            name: None,
        } => format!("coeffs:{}", join(&coefficients.to_array())),
        other => other.spec(),
    }
}

/// One or more curve panels in a grid of `columns` columns, under an optional caption.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveFigure {
    pub caption: Option<String>,
    pub panels: Vec<CurvePanel>,
    pub columns: usize,
    pub size: (u32, u32),
}

impl Figure for CurveFigure {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let area = match &self.caption {
            Some(caption) => root
                .titled(caption, style::caption_font())
                .map_err(drawing_error)?,
            None => root.clone(),
        };
        let columns = self.columns.max(1);
        let rows = self.panels.len().div_ceil(columns).max(1);
        let cells = area.split_evenly((rows, columns));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            panel.draw(cell)?;
        }
        Ok(())
    }
}
