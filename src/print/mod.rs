//! Printing at a scale: the layout of a printed sheet, and the PDF of it ([`pdf`]).
//!
//! The staff map asks for a [`Layout`] — the map frame on the paper, in millimetres and in
//! pixels at the print resolution, and the Web Mercator zoom and pixel ratio that show the
//! chosen scale at the sheet's centre latitude — draws the map (with its labels) at that size
//! and zoom, and sends the picture back with what the sheet says ([`Sheet`]). The PDF places the
//! picture at the size its pixels cover on the ground at that scale, so the map is true to
//! scale whatever rounding the browser did, and draws in vector what must be exact or legible:
//! the scale bar (its length from the scale alone), the ratio, the north arrow, the legend, the
//! title and note, the date, the attribution and 出典, and the dataset's synthetic-data notice.

pub mod pdf;

use serde::{Deserialize, Serialize};

/// The earth's circumference at the equator in Web Mercator (2πR, R = 6,378,137 m).
pub const EARTH_CIRCUMFERENCE_M: f64 = 40_075_016.685_578_49;
/// MapLibre's tile size in CSS pixels: zoom z shows the world 512 · 2^z CSS pixels wide.
const TILE_CSS_PX: f64 = 512.0;
/// CSS pixels per inch.
const CSS_DPI: f64 = 96.0;
const MM_PER_INCH: f64 = 25.4;
/// Resolution of the printed map, dots per inch.
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 200..=300;
pub const DEFAULT_DPI: u32 = 200;
/// The scales a sheet may have (1:SCALE).
pub const SCALE_RANGE: std::ops::RangeInclusive<u32> = 100..=1_000_000;

/// Sheet geometry, in millimetres: margin all round, the title band above the map, and the
/// band below it (scale bar, north arrow, note, date, attribution).
const MARGIN_MM: f64 = 10.0;
const HEADER_MM: f64 = 12.0;
const FOOTER_MM: f64 = 30.0;

/// Why a print was refused: the caller's mistake, said plainly.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("{0}")]
    Invalid(String),
    /// The configured font cannot be read: the server's mistake.
    #[error("the print font {path} cannot be used: {message}")]
    Font { path: String, message: String },
}

fn invalid(message: impl Into<String>) -> PrintError {
    PrintError::Invalid(message.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Paper {
    A4,
    A3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    Portrait,
    Landscape,
}

/// The paper and scale of a sheet, and where its centre lies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    pub paper: Paper,
    pub orientation: Orientation,
    /// The scale's denominator: 2500 for 1:2,500.
    pub scale: u32,
    /// Latitude of the sheet's centre (the scale is true there).
    pub lat: f64,
    /// Dots per inch of the printed map (200–300; default 200).
    #[serde(default)]
    pub dpi: Option<u32>,
}

/// Where the map goes on the sheet and how to draw it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Layout {
    /// Page width and height, mm.
    pub page_mm: [f64; 2],
    /// The map frame: left, top, width, height, mm.
    pub map_mm: [f64; 4],
    /// The map picture to draw, in device pixels.
    pub map_px: [u32; 2],
    /// Device pixels per CSS pixel to draw it with (dpi / 96).
    pub pixel_ratio: f64,
    /// The Web Mercator zoom (MapLibre's, 512-pixel tiles) that shows the scale at `lat`.
    pub zoom: f64,
    pub dpi: u32,
}

impl Layout {
    pub fn new(frame: &Frame) -> Result<Self, PrintError> {
        let dpi = frame.dpi.unwrap_or(DEFAULT_DPI);
        if !DPI_RANGE.contains(&dpi) {
            return Err(invalid(format!("dpi must be {}–{}, not {dpi}", DPI_RANGE.start(), DPI_RANGE.end())));
        }
        if !SCALE_RANGE.contains(&frame.scale) {
            return Err(invalid(format!(
                "the scale must be 1:{} to 1:{}, not 1:{}",
                SCALE_RANGE.start(),
                SCALE_RANGE.end(),
                frame.scale
            )));
        }
        if !(-85.0..=85.0).contains(&frame.lat) {
            return Err(invalid(format!("latitude {} is outside Web Mercator's range (±85°)", frame.lat)));
        }
        let (short, long) = match frame.paper {
            Paper::A4 => (210.0, 297.0),
            Paper::A3 => (297.0, 420.0),
        };
        let page_mm = match frame.orientation {
            Orientation::Portrait => [short, long],
            Orientation::Landscape => [long, short],
        };
        let frame_w = page_mm[0] - 2.0 * MARGIN_MM;
        let frame_h = page_mm[1] - 2.0 * MARGIN_MM - HEADER_MM - FOOTER_MM;
        let px = |mm: f64| (mm / MM_PER_INCH * f64::from(dpi)).round() as u32;
        let pixel_ratio = f64::from(dpi) / CSS_DPI;
        Ok(Self {
            page_mm,
            map_mm: [MARGIN_MM, MARGIN_MM + HEADER_MM, frame_w, frame_h],
            map_px: [px(frame_w), px(frame_h)],
            pixel_ratio,
            zoom: zoom_for(frame.scale, frame.lat),
            dpi,
        })
    }
}

/// Ground metres per CSS pixel of a MapLibre map at `zoom`, at latitude `lat`.
pub fn metres_per_css_px(zoom: f64, lat: f64) -> f64 {
    EARTH_CIRCUMFERENCE_M * lat.to_radians().cos() / (TILE_CSS_PX * zoom.exp2())
}

/// The zoom at which one CSS pixel — 1/96 inch on paper — covers `scale` / 96 inches of
/// ground at `lat`: the map is then at 1:`scale` at any pixel ratio.
pub fn zoom_for(scale: u32, lat: f64) -> f64 {
    let ground_m_per_css_px = f64::from(scale) * MM_PER_INCH / 1000.0 / CSS_DPI;
    (EARTH_CIRCUMFERENCE_M * lat.to_radians().cos() / (TILE_CSS_PX * ground_m_per_css_px)).log2()
}

/// One entry of the printed legend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegendEntry {
    /// `#rrggbb`.
    pub colour: String,
    pub label: String,
}

/// A layer in the printed legend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegendGroup {
    pub title: String,
    #[serde(default)]
    pub entries: Vec<LegendEntry>,
}

/// What a sheet says, and how its map was drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    #[serde(flatten)]
    pub frame: Frame,
    /// The map's centre longitude (shown on the sheet with the latitude).
    pub lon: f64,
    /// The zoom and pixel ratio the map picture was drawn at.
    pub zoom: f64,
    pub pixel_ratio: f64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub legend: Vec<LegendGroup>,
    /// `ja` (default) or `en`: the language of the sheet's own words.
    #[serde(default)]
    pub lang: Option<String>,
}

/// What the server adds to every sheet.
#[derive(Debug, Clone, Default)]
pub struct Imprint {
    /// Attribution lines: the city's, the basemap's 出典.
    pub attribution: Vec<String>,
    /// Said on every sheet of synthetic data.
    pub dataset_notice: Option<String>,
    /// Who printed it, and when (already in the city's local time).
    pub printed_by: String,
    pub printed_at: String,
}

/// Where the map picture goes: its size on paper follows from its pixels, the zoom and the
/// scale; it must fill the frame (within 2 %, so a picture drawn at another zoom or size is
/// refused rather than printed at a wrong scale) and be at least 200 dpi.
pub fn place(sheet: &Sheet, layout: &Layout, picture_px: [u32; 2]) -> Result<[f64; 2], PrintError> {
    let ground_per_device_px = metres_per_css_px(sheet.zoom, sheet.frame.lat) / sheet.pixel_ratio;
    let paper_mm_per_px = ground_per_device_px * 1000.0 / f64::from(sheet.frame.scale);
    let size = [f64::from(picture_px[0]) * paper_mm_per_px, f64::from(picture_px[1]) * paper_mm_per_px];
    let frame = [layout.map_mm[2], layout.map_mm[3]];
    for i in 0..2 {
        if (size[i] / frame[i] - 1.0).abs() > 0.02 {
            return Err(invalid(format!(
                "the map picture ({}×{} px at zoom {:.4}) covers {:.1}×{:.1} mm at 1:{}, but the frame is {:.1}×{:.1} mm: \
                 draw it at the layout's size and zoom",
                picture_px[0], picture_px[1], sheet.zoom, size[0], size[1], sheet.frame.scale, frame[0], frame[1]
            )));
        }
    }
    let dpi = f64::from(picture_px[0]) / (size[0] / MM_PER_INCH);
    if dpi < f64::from(*DPI_RANGE.start()) - 0.5 {
        return Err(invalid(format!(
            "the map picture is {dpi:.0} dpi on paper; at least {} is needed",
            DPI_RANGE.start()
        )));
    }
    Ok(size)
}

/// A scale bar for a map `frame_mm` wide at 1:`scale`: a round length of ground (1, 2 or 5 ×
/// 10ⁿ m) no longer than a quarter of the frame, and its length on paper in mm.
pub fn scale_bar(scale: u32, frame_mm: f64) -> (f64, f64) {
    let mm_per_m = 1000.0 / f64::from(scale);
    let most = frame_mm / 4.0 / mm_per_m;
    let mut metres = 1.0;
    for exp in 0..8 {
        for step in [1.0, 2.0, 5.0] {
            let m = step * 10f64.powi(exp);
            if m <= most {
                metres = m;
            }
        }
    }
    (metres, metres * mm_per_m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(paper: Paper, orientation: Orientation, scale: u32) -> Frame {
        Frame { paper, orientation, scale, lat: 38.6, dpi: None }
    }

    #[test]
    fn the_layout_zoom_shows_the_scale_at_the_latitude() {
        let l = Layout::new(&frame(Paper::A4, Orientation::Landscape, 2500)).unwrap();
        assert_eq!(l.page_mm, [297.0, 210.0]);
        assert_eq!(l.map_px, [2181, 1165]);
        // At 1:2,500, a CSS pixel (0.2646 mm) covers 0.6615 m of ground.
        let m = metres_per_css_px(l.zoom, 38.6);
        assert!((m / (2500.0 * 0.0254 / 96.0) - 1.0).abs() < 1e-12, "{m}");
        // Farther north the same scale needs a lower zoom (the Mercator scale factor).
        assert!(zoom_for(2500, 43.0) < l.zoom && zoom_for(2500, 33.0) > l.zoom);
        let a3 = Layout::new(&Frame { dpi: Some(300), ..frame(Paper::A3, Orientation::Portrait, 1000) }).unwrap();
        assert_eq!((a3.page_mm, a3.map_px[0], a3.pixel_ratio), ([297.0, 420.0], 3272, 3.125));
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        let err = |f: Frame| Layout::new(&f).unwrap_err().to_string();
        assert!(err(frame(Paper::A4, Orientation::Portrait, 10)).contains("1:100 to 1:1000000"));
        assert!(err(Frame { dpi: Some(150), ..frame(Paper::A4, Orientation::Portrait, 2500) }).contains("200–300"));
        assert!(err(Frame { lat: 89.0, ..frame(Paper::A4, Orientation::Portrait, 2500) }).contains("±85"));
    }

    #[test]
    fn a_picture_at_another_zoom_is_refused_and_one_at_the_layout_fills_the_frame() {
        let f = frame(Paper::A4, Orientation::Landscape, 2500);
        let l = Layout::new(&f).unwrap();
        let sheet = |zoom: f64| Sheet {
            frame: f.clone(),
            lon: 140.4,
            zoom,
            pixel_ratio: l.pixel_ratio,
            title: String::new(),
            note: String::new(),
            legend: Vec::new(),
            lang: None,
        };
        let size = place(&sheet(l.zoom), &l, l.map_px).unwrap();
        assert!((size[0] - l.map_mm[2]).abs() < 0.1 && (size[1] - l.map_mm[3]).abs() < 0.1, "{size:?}");
        assert!(place(&sheet(l.zoom + 0.1), &l, l.map_px).unwrap_err().to_string().contains("draw it at the layout"));
        assert!(place(&sheet(l.zoom), &l, [l.map_px[0] / 2, l.map_px[1] / 2]).is_err());
    }

    #[test]
    fn scale_bars_are_round_lengths_true_to_scale() {
        // 100 m at 1:2,500 is 40 mm.
        assert_eq!(scale_bar(2500, 277.0), (100.0, 40.0));
        assert_eq!(scale_bar(2500, 400.0), (200.0, 80.0));
        assert_eq!(scale_bar(10_000, 277.0).0, 500.0);
        assert_eq!(scale_bar(500, 190.0), (20.0, 40.0));
    }
}
