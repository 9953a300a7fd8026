//! Tests of the plotting layer: atomic PNG and SVG writing, sizes, embedded fonts.

use std::path::{Path, PathBuf};

use lossdyn::attraction::Form;
use lossdyn::curve;
use lossdyn::loss::Loss;
use lossdyn::plot::PlotError;
use lossdyn::plot::curve::{CurveFigure, CurvePanel, X_LABEL, Y_LABEL};
use lossdyn::plot::style::{self, Figure, ImageFormat, YScale};
use plotters::coord::Shift;
use plotters::prelude::*;

fn baikal_figure(size: (u32, u32)) -> CurveFigure {
    let grid = curve::grid(200).unwrap();
    let panel = CurvePanel::for_loss(
        &Loss::Baikal,
        "Baikal".to_string(),
        &[2, 10],
        &[Form::Exact, Form::Printed],
        &grid,
    )
    .unwrap();
    CurveFigure {
        caption: None,
        panels: vec![panel],
        columns: 1,
        size,
    }
}

/// A figure that writes one line of black text, or fails while drawing.
struct TextFigure {
    fail: bool,
}

impl Figure for TextFigure {
    fn size(&self) -> (u32, u32) {
        (300, 200)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.fail {
            return Err(PlotError::Drawing("requested failure".to_string()));
        }
        let text = Text::new("Attraction ε", (10, 30), style::caption_font());
        root.draw(&text).map_err(style::drawing_error)
    }
}

fn files_in(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn png_has_requested_size() {
    let directory = tempfile::tempdir().unwrap();
    for (width, height) in [(640, 480), (1000, 700), (333, 517)] {
        let path = directory.path().join(format!("curve-{width}x{height}.png"));
        style::write_figure(&path, &baikal_figure((width, height))).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty());
        let image = image::load_from_memory(&bytes).expect("a decodable PNG");
        assert_eq!(image.width(), width);
        assert_eq!(image.height(), height);
    }
}

#[test]
fn svg_has_size_and_axis_labels() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("curve.svg");
    style::write_figure(&path, &baikal_figure((800, 600))).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.contains(r#"width="800""#));
    assert!(svg.contains(r#"height="600""#));
    assert!(svg.contains(X_LABEL), "x label missing");
    assert!(svg.contains(Y_LABEL), "y label missing");
    assert!(svg.contains("n = 10, Eq. 17 as printed"), "legend missing");
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn text_renders_from_embedded_font() {
    // The text is drawn from the embedded DejaVu font, so dark pixels appear wherever the
    // process runs. A blank image here means font registration failed silently.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("text.png");
    style::write_figure(&path, &TextFigure { fail: false }).unwrap();
    let image = image::open(&path).unwrap().to_luma8();
    let dark = image.pixels().filter(|pixel| pixel.0[0] < 100).count();
    assert!(dark > 100, "only {dark} dark pixels");
}

#[test]
fn write_leaves_only_the_target() {
    let directory = tempfile::tempdir().unwrap();
    let png = directory.path().join("a.png");
    let svg = directory.path().join("a.svg");
    style::write_figure(&png, &TextFigure { fail: false }).unwrap();
    style::write_figure(&svg, &TextFigure { fail: false }).unwrap();
    assert_eq!(files_in(directory.path()), vec![png, svg]);
}

#[test]
fn failed_draw_keeps_previous_file() {
    let directory = tempfile::tempdir().unwrap();
    for name in ["kept.png", "kept.svg"] {
        let path = directory.path().join(name);
        style::write_figure(&path, &TextFigure { fail: false }).unwrap();
        let before = std::fs::read(&path).unwrap();
        let error = style::write_figure(&path, &TextFigure { fail: true }).unwrap_err();
        assert!(matches!(error, PlotError::Drawing(_)), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name} changed");
    }
    let names: Vec<String> = files_in(directory.path())
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["kept.png", "kept.svg"],
        "temporary files left behind"
    );
}

#[test]
fn unsupported_extension_is_rejected() {
    let directory = tempfile::tempdir().unwrap();
    for name in ["figure.gif", "figure", "figure.png.txt"] {
        let path = directory.path().join(name);
        let error = style::write_figure(&path, &TextFigure { fail: false }).unwrap_err();
        assert!(
            matches!(error, PlotError::UnsupportedFormat { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(".png or .svg"), "{error}");
    }
    assert!(files_in(directory.path()).is_empty());
    assert_eq!(
        ImageFormat::from_path(Path::new("x.SVG")).unwrap(),
        ImageFormat::Svg
    );
}

#[test]
fn missing_directory_is_a_write_error() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("missing").join("figure.png");
    let error = style::write_figure(&path, &TextFigure { fail: false }).unwrap_err();
    assert!(matches!(error, PlotError::Write { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("figure.png"), "{message}");
    assert!(message.contains("writable"), "{message}");
}

#[test]
fn size_outside_limits_is_rejected() {
    let directory = tempfile::tempdir().unwrap();
    for size in [(10, 500), (500, 9000)] {
        let path = directory.path().join("small.png");
        let error = style::write_figure(&path, &baikal_figure(size)).unwrap_err();
        assert!(matches!(error, PlotError::Size { .. }), "{error}");
        assert!(error.to_string().contains("200..=8000"), "{error}");
    }
    assert!(files_in(directory.path()).is_empty());
}

#[test]
fn multi_panel_figure_fits_grid() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("grid.png");
    let mut figure = baikal_figure((1200, 900));
    figure.panels.push(figure.panels[0].clone());
    figure.panels.push(figure.panels[0].clone());
    figure.columns = 2;
    figure.caption = Some("three panels".to_string());
    style::write_figure(&path, &figure).unwrap();
    let image = image::open(&path).unwrap();
    assert_eq!((image.width(), image.height()), (1200, 900));
}

#[test]
fn cifar10_axis_is_symmetric_log() {
    // The n = 100 first-principles curve stays below 2e-4 after its sign change near 0.98,
    // so a linear axis would hide that change on the zero line.
    let grid = curve::grid(1000).unwrap();
    let rows = curve::evaluate_all(&Loss::taylorglo_cifar10(), &[100], &grid).unwrap();
    let exact: Vec<f64> = rows.iter().map(|row| row.attraction_exact).collect();
    assert!(matches!(
        YScale::for_curves(&[exact]),
        YScale::SymmetricLog { .. }
    ));
    let rows = curve::evaluate_all(&Loss::CrossEntropy, &[10], &grid).unwrap();
    let exact: Vec<f64> = rows.iter().map(|row| row.attraction_exact).collect();
    assert_eq!(YScale::for_curves(&[exact]), YScale::Linear);
}

#[cfg(unix)]
#[test]
fn written_file_mode_matches_file_create() {
    // The temporary file must not pass its owner-only mode on to the figure.
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let reference = directory.path().join("reference");
    std::fs::File::create(&reference).unwrap();
    let expected = std::fs::metadata(&reference).unwrap().permissions().mode();
    for name in ["mode.png", "mode.svg"] {
        let path = directory.path().join(name);
        style::write_figure(&path, &TextFigure { fail: false }).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, expected & 0o777, "{name}: {mode:o}");
    }
}
