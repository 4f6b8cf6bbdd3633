//! Figures and text for the teaching notebooks, shown inline by the evcxr Jupyter kernel.
//!
//! [`Text`] (with [`outln!`]) collects a cell's printed lines and shows them as the cell's
//! result, whole and in order; [`Figure`] draws a line chart as SVG.
//!
//! A [`Figure`] is a title, two axis labels and a list of named series of $(x, y)$ points.
//! As the last expression of a notebook cell it is drawn inline: evcxr calls
//! [`Figure::evcxr_display`], which prints the SVG between evcxr's display markers
//! (`EVCXR_BEGIN_CONTENT image/svg+xml` … `EVCXR_END_CONTENT`). [`show_svg`] does the same for
//! an SVG made elsewhere.
//!
//! A point that cannot be drawn (NaN or infinite, or $x \le 0$ on a logarithmic axis) is a
//! [`PlotError`] naming the series and the point. With a fixed $y$ range
//! ([`Figure::y_range`]), points outside it are left out and a line is broken there.
//!
//! Series take the colours of the Okabe–Ito palette in turn; from the ninth on, lines are dashed.
//!
//! ```
//! use notebook_plots::Figure;
//! let fig = Figure::new("sigmoid")
//!     .x_label("z")
//!     .y_label("σ(z)")
//!     .line("σ", (-60..=60).map(|i| {
//!         let z = f64::from(i) / 10.0;
//!         (z, 1.0 / (1.0 + (-z).exp()))
//!     }));
//! let svg = fig.to_svg().unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("sigmoid"));
//! ```

use std::fmt;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// Width and height of a figure in pixels.
pub const SIZE: (u32, u32) = (720, 420);

/// The Okabe–Ito palette (distinguishable under the common colour-vision deficiencies).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Why a figure could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotError {
    /// A figure without any point.
    Empty,
    /// A coordinate that is NaN or infinite.
    NonFinite {
        /// The series' name.
        series: String,
        /// The point's index in its series.
        index: usize,
        /// The point.
        point: (f64, f64),
    },
    /// $x \le 0$ on a logarithmic $x$ axis.
    NonPositiveOnLogAxis {
        /// The series' name.
        series: String,
        /// The point's index in its series.
        index: usize,
        /// The value of $x$.
        x: f64,
    },
    /// The drawing backend failed.
    Drawing(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "a figure needs at least one point"),
            Self::NonFinite {
                series,
                index,
                point,
            } => write!(
                f,
                "point {index} {point:?} of series {series:?} is not finite"
            ),
            Self::NonPositiveOnLogAxis { series, index, x } => write!(
                f,
                "point {index} of series {series:?} has x = {x}, not > 0 on a logarithmic axis"
            ),
            Self::Drawing(e) => write!(f, "drawing failed: {e}"),
        }
    }
}

impl std::error::Error for PlotError {}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Line,
    Dots,
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    mark: Mark,
}

/// A line chart: title, axis labels, named series.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
    series: Vec<Series>,
}

impl Figure {
    /// An empty figure with a title.
    pub fn new(title: &str) -> Figure {
        Figure {
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            y_range: None,
            size: SIZE,
            series: Vec::new(),
        }
    }

    /// The label of the $x$ axis.
    pub fn x_label(self, label: &str) -> Figure {
        Figure {
            x_label: label.to_string(),
            ..self
        }
    }

    /// The label of the $y$ axis.
    pub fn y_label(self, label: &str) -> Figure {
        Figure {
            y_label: label.to_string(),
            ..self
        }
    }

    /// A logarithmic $x$ axis (every $x$ must be $> 0$); ticks are labelled with $x$ itself.
    pub fn log_x(self) -> Figure {
        Figure {
            log_x: true,
            ..self
        }
    }

    /// Width and height in pixels (default [`SIZE`]).
    pub fn size(self, width: u32, height: u32) -> Figure {
        Figure {
            size: (width, height),
            ..self
        }
    }

    /// A fixed $y$ range instead of the data's range with a 5% margin; points outside it are
    /// not drawn.
    pub fn y_range(self, low: f64, high: f64) -> Figure {
        Figure {
            y_range: Some((low, high)),
            ..self
        }
    }

    /// Adds a series drawn as a line through its points, in order.
    pub fn line(self, name: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Figure {
        self.with_series(name, points, Mark::Line)
    }

    /// Adds a series drawn as separate dots.
    pub fn dots(self, name: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Figure {
        self.with_series(name, points, Mark::Dots)
    }

    fn with_series(
        mut self,
        name: &str,
        points: impl IntoIterator<Item = (f64, f64)>,
        mark: Mark,
    ) -> Figure {
        self.series.push(Series {
            name: name.to_string(),
            points: points.into_iter().collect(),
            mark,
        });
        self
    }

    /// The points as drawn: $x$ replaced by $\log_{10} x$ on a logarithmic axis, every
    /// coordinate checked.
    fn plotted(&self) -> Result<Vec<Vec<(f64, f64)>>, PlotError> {
        let mut out = Vec::with_capacity(self.series.len());
        for s in &self.series {
            let mut pts = Vec::with_capacity(s.points.len());
            for (index, &(x, y)) in s.points.iter().enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    return Err(PlotError::NonFinite {
                        series: s.name.clone(),
                        index,
                        point: (x, y),
                    });
                }
                if self.log_x && x <= 0.0 {
                    return Err(PlotError::NonPositiveOnLogAxis {
                        series: s.name.clone(),
                        index,
                        x,
                    });
                }
                pts.push((if self.log_x { x.log10() } else { x }, y));
            }
            out.push(pts);
        }
        if out.iter().all(Vec::is_empty) {
            return Err(PlotError::Empty);
        }
        Ok(out)
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let plotted = self.plotted()?;
        let all = || plotted.iter().flatten();
        let x = span(all().map(|p| p.0), 0.0);
        let y = self
            .y_range
            .unwrap_or_else(|| span(all().map(|p| p.1), 0.05));
        let mut svg = String::new();
        self.draw(&plotted, x, y, &mut svg)
            .map_err(|e| PlotError::Drawing(e.to_string()))?;
        Ok(svg)
    }

    fn draw(
        &self,
        plotted: &[Vec<(f64, f64)>],
        x: (f64, f64),
        y: (f64, f64),
        svg: &mut String,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(svg, self.size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
        let power_of_ten = |v: &f64| format!("{:.0e}", 10f64.powf(*v));
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style(("sans-serif", 17))
            .label_style(("sans-serif", 14))
            .light_line_style(WHITE.mix(0.0));
        if self.log_x {
            mesh.x_label_formatter(&power_of_ten);
        }
        mesh.draw()?;
        for (i, (s, pts)) in self.series.iter().zip(plotted).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let style = color.stroke_width(2);
            let dashed = (i / PALETTE.len()) % 2 == 1;
            let inside = |p: &(f64, f64)| p.1 >= y.0 && p.1 <= y.1;
            let drawn =
                match s.mark {
                    Mark::Line => {
                        let segments: Vec<&[(f64, f64)]> = pts
                            .split(|p| !inside(p))
                            .filter(|seg| !seg.is_empty())
                            .collect();
                        if dashed {
                            chart.draw_series(segments.iter().map(|seg| {
                                DashedPathElement::new(seg.iter().copied(), 8, 5, style)
                            }))?
                        } else {
                            chart.draw_series(
                                segments
                                    .iter()
                                    .map(|seg| PathElement::new(seg.to_vec(), style)),
                            )?
                        }
                    }
                    Mark::Dots => chart.draw_series(
                        pts.iter()
                            .filter(|p| inside(p))
                            .map(|&p| Circle::new(p, 3, color.filled())),
                    )?,
                };
            let (dash, gap) = if dashed { (6, 3) } else { (24, 0) };
            drawn.label(s.name.as_str()).legend(move |(lx, ly)| {
                DashedPathElement::new([(lx, ly), (lx + 24, ly)], dash, gap, style)
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
        root.present()?;
        Ok(())
    }

    /// Writes the SVG to `path`.
    pub fn save(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::write(path, self.to_svg()?)?;
        Ok(())
    }

    /// evcxr's display hook: draws the figure inline, or prints the [`PlotError`] on stderr.
    pub fn evcxr_display(&self) {
        match self.to_svg() {
            Ok(svg) => show_svg(&svg),
            Err(e) => eprintln!("error: the figure {:?} was not drawn: {e}", self.title),
        }
    }
}

/// $[\min, \max]$ of the values widened by `margin` of its width (by $\pm 1$ if it is a point).
fn span(values: impl Iterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = if hi > lo { margin * (hi - lo) } else { 1.0 };
    (lo - pad, hi + pad)
}

/// Prints `svg` between evcxr's display markers, so the kernel shows it inline.
pub fn show_svg(svg: &str) {
    println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT");
}

/// Lines of text shown as a cell's result (`text/plain` through evcxr's display protocol).
///
/// The kernel forwards what a cell prints with `println!` separately from the cell's
/// completion, so the last lines can arrive after it (attached to the next cell, or lost when
/// the kernel shuts down). A cell's result is part of its completion: collected in a `Text`,
/// returned as the cell's last expression, the lines appear whole and in order.
///
/// ```
/// use notebook_plots::{outln, Text};
/// let mut out = Text::new();
/// outln!(out, "ln 2 = {:.6}", std::f64::consts::LN_2);
/// outln!(out);
/// assert_eq!(out.as_str(), "ln 2 = 0.693147\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// No lines yet.
    pub fn new() -> Text {
        Text::default()
    }

    /// Appends a line (a newline is added).
    pub fn push_line(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// evcxr's display hook: the lines as the cell's `text/plain` result.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/plain\n{}\nEVCXR_END_CONTENT",
            self.0.trim_end_matches('\n')
        );
    }
}

/// `outln!(out, "format", args…)` appends a formatted line to the [`Text`] `out`, as
/// `println!` would print it; `outln!(out)` appends an empty line.
#[macro_export]
macro_rules! outln {
    ($out:expr) => {
        $out.push_line("")
    };
    ($out:expr, $($arg:tt)*) => {
        $out.push_line(&::std::format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parabola() -> Figure {
        Figure::new("a parabola")
            .x_label("x")
            .y_label("x²")
            .line("x²", (-10..=10).map(|i| (f64::from(i), f64::from(i * i))))
            .dots("ends", [(-10.0, 100.0), (10.0, 100.0)])
    }

    /// The contents of the SVG's `<text>` elements.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| {
                let body = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                body.trim().to_string()
            })
            .collect()
    }

    #[test]
    fn svg_holds_title_labels_and_legend() {
        let svg = parabola().to_svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        let texts = texts(&svg);
        for text in ["a parabola", "x", "x²", "ends", "100.0"] {
            assert!(
                texts.iter().any(|t| t == text),
                "{text} missing from {texts:?}"
            );
        }
        assert!(svg.contains("<polyline"), "the line series is a polyline");
        assert_eq!(svg.matches("<circle").count(), 2, "one circle per dot");
    }

    #[test]
    fn the_same_figure_gives_the_same_bytes() {
        assert_eq!(parabola().to_svg().unwrap(), parabola().to_svg().unwrap());
    }

    #[test]
    fn non_finite_points_are_named() {
        let err = Figure::new("t")
            .line("ok", [(0.0, 1.0)])
            .line("bad", [(0.0, 1.0), (1.0, f64::INFINITY)])
            .to_svg()
            .unwrap_err();
        assert_eq!(
            err,
            PlotError::NonFinite {
                series: "bad".into(),
                index: 1,
                point: (1.0, f64::INFINITY)
            }
        );
        assert!(err.to_string().contains("\"bad\""));
    }

    #[test]
    fn log_axis_needs_positive_x_and_labels_ticks_with_x() {
        let err = Figure::new("t")
            .log_x()
            .line("s", [(1.0, 1.0), (0.0, 2.0)])
            .to_svg()
            .unwrap_err();
        assert!(matches!(
            err,
            PlotError::NonPositiveOnLogAxis { index: 1, .. }
        ));
        let svg = Figure::new("t")
            .log_x()
            .line("s", [(1e-3, 1.0), (1e3, 2.0)])
            .to_svg()
            .unwrap();
        let texts = texts(&svg);
        for tick in ["1e-3", "1e0", "1e3"] {
            assert!(
                texts.iter().any(|t| t == tick),
                "{tick} missing from {texts:?}"
            );
        }
    }

    #[test]
    fn a_fixed_range_leaves_out_points_and_breaks_lines() {
        let svg = Figure::new("t")
            .y_range(0.0, 1.0)
            .line(
                "s",
                [(0.0, 0.5), (1.0, 0.6), (2.0, 9.0), (3.0, 0.7), (4.0, 0.8)],
            )
            .dots("d", [(0.0, 0.5), (1.0, 5.0)])
            .to_svg()
            .unwrap();
        // Two segments of the line and one dot inside the range (the mesh draws other lines).
        let colour = format!(
            "#{:02X}{:02X}{:02X}",
            PALETTE[0].0, PALETTE[0].1, PALETTE[0].2
        );
        let series_lines = svg
            .lines()
            .filter(|l| l.contains("<polyline") && l.contains(&colour))
            .count();
        assert_eq!(series_lines, 2 + 1, "two segments and the legend's sample");
        assert_eq!(svg.matches("<circle").count(), 1);
    }

    #[test]
    fn series_after_the_eighth_are_dashed() {
        let fig = (0..9).fold(Figure::new("t"), |f, i| {
            f.line(&format!("s{i}"), [(0.0, f64::from(i)), (1.0, f64::from(i))])
        });
        let svg = fig.to_svg().unwrap();
        let colour = format!(
            "#{:02X}{:02X}{:02X}",
            PALETTE[0].0, PALETTE[0].1, PALETTE[0].2
        );
        let first_colour = svg.lines().filter(|l| l.contains(&colour)).count();
        // Series 0: one line and its legend sample; series 8: several dashes and the sample's.
        assert!(
            first_colour > 4,
            "series 8 is drawn in dashes: {first_colour}"
        );
    }

    #[test]
    fn text_keeps_lines_in_order() {
        let mut out = Text::new();
        outln!(out, "{} + {} = {}", 1, 1, 2);
        outln!(out);
        outln!(out, "done");
        assert_eq!(out.as_str(), "1 + 1 = 2\n\ndone\n");
    }

    #[test]
    fn an_empty_figure_is_an_error() {
        assert_eq!(Figure::new("t").to_svg(), Err(PlotError::Empty));
        assert_eq!(
            Figure::new("t").line("s", []).to_svg(),
            Err(PlotError::Empty)
        );
    }

    #[test]
    fn span_pads_and_widens_a_point() {
        assert_eq!(span([0.0, 10.0].into_iter(), 0.1), (-1.0, 11.0));
        assert_eq!(span([3.0].into_iter(), 0.1), (2.0, 4.0));
    }
}
