//! `frontier.svg`: reward $\mathbb E_\pi[r^\*]$ against $\overline{\mathrm{KL}}(\pi\\|\pi_{\text{ref}})$,
//! the optimal frontier as a line and every other method's points in its own colour (the
//! `plotters` SVG backend; text is written as SVG `<text>`, so no fonts are needed).

use plotters::prelude::*;

use super::FrontierReport;
use crate::frontier::methods::Method;

/// First line of every SVG this crate writes (how [`super::output`] recognises its files).
pub const HEADER_MARK: &str = "<!-- dpo-oracle frontier";

/// The colour of a method.
fn colour(method: Method) -> RGBColor {
    match method {
        Method::Optimal => RGBColor(0, 0, 0),
        Method::Dpo => RGBColor(214, 39, 40),
        Method::RlhfExact => RGBColor(31, 119, 180),
        Method::Ppo => RGBColor(255, 127, 14),
        Method::PpoGt => RGBColor(44, 160, 44),
        Method::PreferredFt => RGBColor(148, 103, 189),
        Method::Unlikelihood => RGBColor(140, 86, 75),
        Method::BestOfN => RGBColor(227, 119, 194),
    }
}

impl FrontierReport {
    /// The SVG text.
    pub fn to_svg(&self) -> String {
        let mut body = String::new();
        // Drawing into a String cannot fail; a plotters error would leave a partial figure.
        let _ = self.draw(&mut body);
        format!(
            "{HEADER_MARK}: seed {}, {} pairs per prompt -->\n{body}",
            self.options.seed, self.options.pairs_per_prompt
        )
    }

    fn draw(&self, body: &mut String) -> Result<(), Box<dyn std::error::Error + '_>> {
        let all: Vec<_> = self.optimal.iter().chain(&self.points).collect();
        let max_kl = all.iter().map(|p| p.kl).fold(1.0_f64, f64::max) * 1.05;
        let (lo, hi) = all
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.reward), h.max(p.reward))
            });
        let pad = 0.05 * (hi - lo).max(1e-6);
        let root = SVGBackend::with_string(body, (960, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Reward against KL: {} prompts, {} responses each, {} preference pairs per prompt",
                    self.options.prompts,
                    self.problem.responses(),
                    self.options.pairs_per_prompt
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..max_kl, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("KL(pi || pi_ref), nats (mean over prompts, exact)")
            .y_desc("E_pi[r*] (mean over prompts, exact)")
            .draw()?;
        let line: Vec<(f64, f64)> = self.optimal.iter().map(|p| (p.kl, p.reward)).collect();
        chart
            .draw_series(LineSeries::new(
                line,
                colour(Method::Optimal).stroke_width(2),
            ))?
            .label("optimal (pi_r*, Eq. 4)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], colour(Method::Optimal)));
        for method in Method::ALL.into_iter().filter(|&m| m != Method::Optimal) {
            let c = colour(method);
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| p.method == method)
                .map(|p| (p.kl, p.reward))
                .collect();
            chart
                .draw_series(pts.into_iter().map(|xy| Circle::new(xy, 3, c.filled())))?
                .label(method.name())
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}
