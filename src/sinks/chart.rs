//! Charts for the HTML reports and the dashboard, drawn as SVG with `plotters` (no fonts are
//! loaded: text is left to the browser), so a report stays one self-contained file.

use plotters::prelude::*;

/// One series of a compliance chart: a name and one value in [0, 1] per day.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// Daily values in [0, 1].
    pub values: Vec<f64>,
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x6f, 0xb4),
    RGBColor(0xd6, 0x60, 0x1c),
    RGBColor(0x2c, 0x8c, 0x3c),
    RGBColor(0x9b, 0x3d, 0x9b),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xb0, 0x8d, 0x00),
];

/// A line chart of daily compliance (0–100 %) over `dates` (`YYYY-MM-DD`), `width`×`height`
/// pixels, as an SVG document. An empty series list gives an empty frame.
pub fn compliance_svg(dates: &[String], series: &[Series], width: u32, height: u32) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let _ = draw(&root, dates, series);
        let _ = root.present();
    }
    svg
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    dates: &[String],
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = dates.len().max(2);
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(40)
        .build_cartesian_2d(0..(n - 1), 0.0f64..100.0)?;
    let label = |i: &usize| {
        dates
            .get(*i)
            .map(|d| d[5..].to_string())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&label)
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                s.values.iter().enumerate().map(|(i, v)| (i, v * 100.0)),
                colour.stroke_width(2),
            ))?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_one_path_per_series() {
        let dates: Vec<String> = (1..=5).map(|d| format!("2026-11-0{d}")).collect();
        let svg = compliance_svg(
            &dates,
            &[
                Series {
                    name: "Acme",
                    values: vec![1.0, 0.8, 0.8, 0.9, 1.0],
                },
                Series {
                    name: "Borough",
                    values: vec![0.5; 5],
                },
            ],
            600,
            240,
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("11-03") && svg.contains("Borough"), "{svg}");
        assert!(svg.matches("<polyline").count() >= 2, "{svg}");
    }
}
