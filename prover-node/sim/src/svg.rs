//! Hand-written SVG: line charts and heatmaps (no plotting dependency).

use std::fmt::Write;

const W: f64 = 780.0;
const H: f64 = 400.0;
const L: f64 = 70.0;
const R: f64 = 300.0;
const T: f64 = 40.0;
const B: f64 = 55.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(0.01..10_000.0).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// A line chart. `log_x`/`log_y`: logarithmic axes (values must be positive).
pub fn line_chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
    y_range: Option<(f64, f64)>,
) -> String {
    let tx = |v: f64| if log_x { v.log10() } else { v };
    let ty = |v: f64| if log_y { v.max(1e-300).log10() } else { v };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &all {
        if y.is_finite() {
            x0 = x0.min(tx(x));
            x1 = x1.max(tx(x));
            y0 = y0.min(ty(y));
            y1 = y1.max(ty(y));
        }
    }
    if let Some((a, b)) = y_range {
        y0 = ty(a);
        y1 = ty(b);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let px = |x: f64| L + (tx(x) - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - (ty(y).clamp(y0, y1) - y0) / (y1 - y0) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"#,
        W / 2.0,
        esc(title)
    );
    // Axes and ticks.
    let _ = writeln!(
        s,
        r##"<path d="M{L} {T} V{} H{}" fill="none" stroke="#333"/>"##,
        H - B,
        W - R
    );
    for i in 0..=5 {
        let fx = x0 + (x1 - x0) * i as f64 / 5.0;
        let vx = if log_x { 10f64.powf(fx) } else { fx };
        let fy = y0 + (y1 - y0) * i as f64 / 5.0;
        let vy = if log_y { 10f64.powf(fy) } else { fy };
        let (gx, gy) = (px(vx), py(vy));
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{T}" x2="{gx:.1}" y2="{}" stroke="#eee"/><text x="{gx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 16.0,
            fmt_tick(vx)
        );
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{gy:.1}" x2="{}" y2="{gy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            L - 6.0,
            gy + 4.0,
            fmt_tick(vy)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (L + W - R) / 2.0,
        H - 12.0,
        esc(xlabel)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        (T + H - B) / 2.0,
        (T + H - B) / 2.0,
        esc(ylabel)
    );
    for (k, se) in series.iter().enumerate() {
        let col = COLORS[k % COLORS.len()];
        let d: Vec<String> = se
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .enumerate()
            .map(|(j, &(x, y))| {
                format!(
                    "{}{:.1} {:.1}",
                    if j == 0 { "M" } else { "L" },
                    px(x),
                    py(y)
                )
            })
            .collect();
        let dash = if se.dashed {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<path d="{}" fill="none" stroke="{col}" stroke-width="2"{dash}/>"#,
            d.join(" ")
        );
        let ly = T + 14.0 + 18.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{col}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            W - R + 10.0,
            W - R + 30.0,
            W - R + 35.0,
            ly + 4.0,
            esc(&se.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A heatmap: `fills[row][col]` and `labels[row][col]`, rows bottom to top (`ys`), columns left
/// to right (`xs`).
pub struct Heatmap<'a> {
    pub title: &'a str,
    pub xlabel: &'a str,
    pub ylabel: &'a str,
    pub xs: &'a [String],
    pub ys: &'a [String],
    pub fills: &'a [Vec<String>],
    pub labels: &'a [Vec<String>],
    pub legend: &'a [(&'a str, &'a str)],
}

pub fn heatmap(h: &Heatmap) -> String {
    let Heatmap {
        title,
        xlabel,
        ylabel,
        xs,
        ys,
        fills,
        labels,
        legend,
    } = *h;
    let (nx, ny) = (xs.len() as f64, ys.len() as f64);
    let cw = (W - L - R) / nx;
    let ch = (H - T - B) / ny;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"#,
        W / 2.0,
        esc(title)
    );
    for (r, row) in fills.iter().enumerate() {
        for (k, fill) in row.iter().enumerate() {
            let x = L + k as f64 * cw;
            let y = H - B - (r as f64 + 1.0) * ch;
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cw:.1}" height="{ch:.1}" fill="{}" stroke="#fff"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"##,
                fill,
                x + cw / 2.0,
                y + ch / 2.0 + 3.0,
                esc(&labels[r][k])
            );
        }
    }
    for (k, t) in xs.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            L + (k as f64 + 0.5) * cw,
            H - B + 14.0,
            esc(t)
        );
    }
    for (r, t) in ys.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            L - 4.0,
            H - B - (r as f64 + 0.5) * ch + 4.0,
            esc(t)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
        (L + W - R) / 2.0,
        H - 12.0,
        esc(xlabel)
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">{}</text>"#,
        (T + H - B) / 2.0,
        (T + H - B) / 2.0,
        esc(ylabel)
    );
    for (k, (col, name)) in legend.iter().enumerate() {
        let ly = T + 10.0 + 18.0 * k as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{ly}" width="14" height="12" fill="{col}"/><text x="{}" y="{}">{}</text>"##,
            W - R + 10.0,
            W - R + 30.0,
            ly + 10.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}
