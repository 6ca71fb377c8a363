//! The SVG bar chart of a run: one row of panels per thread count, GFLOP/s per convolution
//! case with the measured FMA peak as a horizontal line, Gelem/s per pooling case, and the
//! best other library per case as a grey bar beside ours.
//!
//! Only plotters' SVG backend is used, with its built-in text-size estimate: no font files
//! and no system libraries are needed (the viewer renders the text).

use super::peak::Peak;
use super::peers::Peers;
use super::report::BenchResult;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const OURS: RGBColor = RGBColor(31, 119, 180);
const PEER: RGBColor = RGBColor(160, 160, 160);
const PEAK: RGBColor = RGBColor(214, 39, 40);
/// Pixels below each plot for the rotated case names.
const LABEL_STRIP: u32 = 170;

/// One case's bars.
#[derive(Clone, Debug, PartialEq)]
struct Bar {
    case: String,
    ours: f64,
    peer: Option<(String, f64)>,
}

/// The best of our results per case (several with `--algo all`), in first-seen order.
fn bars(results: &[BenchResult], threads: usize, pool: bool, peers: Option<&Peers>) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for r in results {
        if r.threads != threads || r.is_pool() != pool || r.case == "fma_peak" {
            continue;
        }
        let Some(v) = r.value() else { continue };
        match out.iter_mut().find(|b| b.case == r.case) {
            Some(b) => b.ours = b.ours.max(v),
            None => out.push(Bar {
                case: r.case.clone(),
                ours: v,
                peer: peers
                    .and_then(|p| p.best(&r.case, threads))
                    .map(|p| (p.peer.clone(), p.gflops)),
            }),
        }
    }
    out
}

fn err(e: impl std::fmt::Display) -> String {
    format!("drawing the chart: {e}")
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    bars: &[Bar],
    peak: Option<f64>,
) -> Result<(), String> {
    let n = bars.len();
    let top = bars
        .iter()
        .flat_map(|b| std::iter::once(b.ours).chain(b.peer.as_ref().map(|p| p.1)))
        .chain(peak)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.35; // head room for the legend
                // plotters centres rotated axis labels on their tick, so half of each name would sit
                // inside the plot: the names are drawn by hand, left-anchored, in a strip below it.
    let (_, height) = area.dim_in_pixel();
    let (plot_area, label_strip) = area.split_vertically(height.saturating_sub(LABEL_STRIP));
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(4)
        .y_label_area_size(56)
        // Case i is centred on x = i, so integer key points (one per case) label the groups.
        .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .light_line_style(WHITE)
        .y_desc(unit)
        .draw()
        .map_err(err)?;
    let (strip_x, strip_y) = label_strip.get_base_pixel();
    let name_style = ("sans-serif", 12)
        .into_font()
        .transform(FontTransform::Rotate90)
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, b) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64, 0.0));
        label_strip
            .draw(&Text::new(
                b.case.clone(),
                (x - strip_x, (y - strip_y).max(0) + 6),
                name_style.clone(),
            ))
            .map_err(err)?;
    }
    let value_style = ("sans-serif", 10)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let x = i as f64;
            Rectangle::new([(x - 0.4, 0.0), (x, b.ours)], OURS.filled())
        }))
        .map_err(err)?
        .label("convkit")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], OURS.filled()));
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Text::new(
                fmt_value(b.ours),
                (i as f64 - 0.2, b.ours),
                value_style.clone(),
            )
        }))
        .map_err(err)?;
    if bars.iter().any(|b| b.peer.is_some()) {
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                let x = i as f64;
                b.peer
                    .as_ref()
                    .map(|p| Rectangle::new([(x, 0.0), (x + 0.4, p.1)], PEER.filled()))
            }))
            .map_err(err)?
            .label("best other library (name above bar)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], PEER.filled()));
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                b.peer.as_ref().map(|p| {
                    Text::new(
                        format!("{} {}", p.0, fmt_value(p.1)),
                        (i as f64 + 0.2, p.1),
                        value_style.clone(),
                    )
                })
            }))
            .map_err(err)?;
    }
    if let Some(peak) = peak {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, peak), (n as f64 - 0.5, peak)],
                PEAK.stroke_width(2),
            )))
            .map_err(err)?
            .label(format!("measured FMA peak {peak:.1} GFLOP/s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], PEAK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn fmt_value(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders the chart of `results` as an SVG document. `peaks` gives the peak line of each
/// thread count; `peers` adds the best other library per case.
pub fn render_svg(
    results: &[BenchResult],
    peaks: &[Peak],
    peers: Option<&Peers>,
    title: &str,
) -> Result<String, String> {
    let mut threads: Vec<usize> = results
        .iter()
        .filter(|r| r.value().is_some() && r.case != "fma_peak")
        .map(|r| r.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    if threads.is_empty() {
        return Err("no measured result to chart".to_string());
    }
    let rows: Vec<(usize, Vec<Bar>, Vec<Bar>)> = threads
        .iter()
        .map(|&t| {
            (
                t,
                bars(results, t, false, peers),
                bars(results, t, true, peers),
            )
        })
        .collect();
    let max_conv = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let max_pool = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
    let slot = 78u32;
    let conv_w = if max_conv > 0 {
        90 + slot * max_conv as u32
    } else {
        0
    };
    let pool_w = if max_pool > 0 {
        90 + slot * max_pool as u32
    } else {
        0
    };
    let width = (conv_w + pool_w).max(12 * title.len() as u32).max(400);
    let row_h = 520u32;
    let height = 40 + row_h * rows.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
        let areas = root.split_evenly((rows.len(), 1));
        for ((t, conv, pool), area) in rows.iter().zip(areas) {
            let (conv_area, pool_area) = area.split_horizontally(conv_w.max(1));
            let thr = if *t == 1 { "thread" } else { "threads" };
            if !conv.is_empty() {
                let peak = peaks.iter().find(|p| p.threads == *t).map(|p| p.gflops);
                panel(
                    &conv_area,
                    &format!("convolution, {t} {thr}"),
                    "GFLOP/s",
                    conv,
                    peak,
                )?;
            }
            if !pool.is_empty() {
                panel(
                    &pool_area,
                    &format!("pooling, {t} {thr}"),
                    "output Gelem/s",
                    pool,
                    None,
                )?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convkit_kernels::Level;

    #[test]
    fn renders_bars_peak_and_peers() {
        let peak = Peak {
            threads: 1,
            level: Level::Avx512f,
            gflops: 100.0,
        };
        let results = vec![
            BenchResult::from_peak(&peak),
            BenchResult::measured(
                "conv_a",
                "reference",
                "auto",
                "avx512",
                1,
                0.01,
                10,
                1e9,
                false,
                Some(&peak),
            ),
            BenchResult::measured(
                "conv_a",
                "im2colx",
                "im2colx",
                "avx512",
                1,
                0.005,
                10,
                1e9,
                false,
                Some(&peak),
            ),
            BenchResult::measured(
                "pool_b", "pool", "auto", "avx512", 1, 0.001, 10, 1e6, true, None,
            ),
        ];
        let peers =
            Peers::parse(r#"{"peer":"ortx","threads":1,"case":"conv_a","gflops":150.0}"#).unwrap();
        let svg = render_svg(&results, &[peak], Some(&peers), "test chart").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        for needle in [
            "conv_a",
            "pool_b",
            "ortx",
            "measured FMA peak 100.0",
            "test chart",
            "200",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
        assert!(render_svg(&[], &[], None, "empty").is_err());
    }
}
